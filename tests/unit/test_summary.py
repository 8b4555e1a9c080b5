"""The first screen of a supervisor's answer (handlers.summary.fit) and the phone chart."""

from __future__ import annotations

import io

from PIL import Image

from handlers import chart
from handlers.i18n import set_language
from handlers.summary import Section, fit


def setup_function() -> None:
    set_language("en")


def test_fit_keeps_what_fits_and_counts_the_rest() -> None:
    head = ["Progress: X"]  # 11 characters
    units = Section("Units", [f"unit {i}" for i in range(10)], most=3)  # "unit 0" is 6
    tasks = Section("Tasks", ["task a", "task b"])
    text = fit(head, [units, tasks], limit=200)
    assert text == (
        "Progress: X\n\nUnits\nunit 0\nunit 1\nunit 2\n…and 7 more\n\nTasks\ntask a\ntask b"
    )
    # 11 + 2 + 5 + 7 + 7 = 32 holds the title and two lines; the third line would need its
    # 7 and, with 7 left, "\n…and 7 more" (12): 51 > 45, so two lines and "…and 8 more".
    tight = fit(head, [units, tasks], limit=45)
    assert tight == "Progress: X\n\nUnits\nunit 0\nunit 1\n…and 8 more"
    assert len(tight) <= 45
    assert fit(["x" * 50], [], limit=20) == "x" * 19 + "…"


def test_the_chart_is_drawn_for_a_phone() -> None:
    spec = chart.ChartSpec(
        "Progress by unit: Tỉnh Nghệ An",
        "% of target reached",
        [chart.Bar("Huyện Hưng Nguyên", 0, 1, "0% · 1 overdue"), chart.Bar("Vinh", 75, 0, "75%")],
    )
    png = Image.open(io.BytesIO(chart.render_chart(spec)))
    assert png.width == 720, "twice a 360 px phone screen"
    # A label on the phone: pixels of the PNG -> pixels at 360 px wide.
    on_phone = chart.LABEL_PX * 360 / png.width
    before = 9 * 100 / 72 * 360 / 800  # 9 pt labels at 100 dpi in an 800 px chart
    assert on_phone >= 2 * before
