"""The figures of a report, asked one by one inside the check-in flow (step ``figure``).

When a reporting task declares figures (plan file, ``figures``), submitting the
report document leads here: each figure the system can count is proposed
("the system counts 12": Confirm, or send the right number), the others are
asked; Skip leaves a figure out. The values are saved with the report's check-in
(``db.report_figures.save_figures``). Buttons: ``rcf:ok``, ``rcf:skip``.
"""

from __future__ import annotations

from decimal import Decimal

from db import report_figures as repo
from db.checkins import AssignmentProgress
from db.models import Task
from db.units import by_id
from handlers.flow import Context, Invalid
from handlers.i18n import _, current_language, local_today
from handlers.render import bold, esc
from handlers.types import Choice, Incoming, Message, Reply

OK = "rcf:ok"
SKIP = "rcf:skip"


def _label(figure: dict[str, object]) -> str:
    key = "en" if current_language() == "en" else "vi"
    return str(figure.get(key) or figure.get("vi"))


async def start(ctx: Context, a: AssignmentProgress) -> bool:
    """Set up the figures of ``a``'s report, with the proposals; False when it has none."""
    task = await ctx.session.get(Task, a.task_id)
    if task is None or not task.figures:
        return False
    unit = await by_id(ctx.session, a.unit_id)
    assert unit is not None
    year = await repo.plan_year(ctx.session, task.id)
    proposed = await repo.propose(ctx.session, unit, task.figures, year, local_today(ctx.now))
    ctx.update(
        figures=[{**f, "proposed": proposed.get(f["code"])} for f in task.figures],
        figure_index=0,
        figure_values={},
    )
    return True


def _current(ctx: Context) -> dict[str, object]:
    return dict(ctx.data["figures"][int(ctx.data["figure_index"])])


async def prompt(ctx: Context) -> Reply:
    figure = _current(ctx)
    n = len(ctx.data["figures"])
    head = _("Figure {i} of {n}: {label}").format(
        i=int(ctx.data["figure_index"]) + 1, n=n, label=bold(esc(_label(figure)))
    )
    proposed = figure.get("proposed")
    if proposed is not None:
        text = _("The system counts {value}. Press Confirm, or send the right number.").format(
            value=proposed
        )
        choices = [Choice(OK, _("Confirm {value}").format(value=proposed)), Choice(SKIP, _("Skip"))]
    else:
        text = _("Send the number, or press Skip.")
        choices = [Choice(SKIP, _("Skip"))]
    return [Message(f"{head}\n{text}", choices=choices, columns=2)]


async def handle(ctx: Context, inp: Incoming) -> bool:
    """Take one figure; True when every figure has been answered."""
    from handlers.checkin import parse_number

    figure = _current(ctx)
    values = dict(ctx.data["figure_values"])
    # buttons only: a typed number is always the figure itself, never a menu line
    if inp.choice == OK and figure.get("proposed") is not None:
        values[str(figure["code"])] = str(figure["proposed"])
    elif inp.choice is not None and inp.choice != SKIP:
        raise Invalid(_("Send a number, or choose one of the options below."))
    elif inp.choice is None:
        values[str(figure["code"])] = str(parse_number(inp.text, whole=False))
    index = int(ctx.data["figure_index"]) + 1
    ctx.update(figure_values=values, figure_index=index)
    return index >= len(ctx.data["figures"])


def summary_lines(ctx: Context) -> list[str]:
    """The figures for the confirmation (what was proposed, when it differs)."""
    from handlers.checkin import num

    values = ctx.data.get("figure_values") or {}
    if not ctx.data.get("figures"):
        return []
    lines = [bold(_("Figures"))]
    for figure in ctx.data["figures"]:
        value = values.get(figure["code"])
        shown = num(Decimal(value)) if value is not None else "—"
        line = f"• {esc(_label(figure))}: {shown}"
        proposed = figure.get("proposed")
        if proposed is not None and value is not None and Decimal(value) != Decimal(proposed):
            line += " " + _("(the system counts {value})").format(value=num(Decimal(proposed)))
        lines.append(line)
    return lines


def save(ctx: Context, checkin_id: int) -> None:
    values = ctx.data.get("figure_values") or {}
    if not values:
        return
    proposed = {
        f["code"]: int(f["proposed"]) for f in ctx.data["figures"] if f.get("proposed") is not None
    }
    repo.save_figures(ctx.session, checkin_id, values, proposed)
