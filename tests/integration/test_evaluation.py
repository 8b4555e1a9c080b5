"""The yearly evaluation: the template sheet, proposals from data, self-assessment with
refusals (above the maximum, after the deadline), the superior's adjustment and decision
(a differing total needs a reason), the ranking and the commendation proposals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from db import evaluation as ev
from db.plan_import import SHIPPED_PLAN
from db.session import Database
from db.units import by_code
from handlers.i18n import current_language, set_language
from tests.integration.import_support import import_plan, import_units


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    previous = current_language()
    set_language("en")
    yield
    set_language(previous)


def test_the_shipped_sheet_is_a_template_and_bad_sheets_are_refused(tmp_path: Path) -> None:
    sheet = ev.load_sheet()
    assert sheet["template"] is True and "TEMPLATE" in sheet["title"]["en"]
    assert ev.deadline(sheet, "residential_area", 2025) == dt.date(2025, 11, 20)
    assert ev.deadline(sheet, "commune", 2025) == dt.date(2025, 11, 30)
    assert ev.deadline(sheet, "school", 2025) == dt.date(2025, 11, 30)
    assert ev.deadline(sheet, "district", 2025) == dt.date(2025, 12, 15)
    assert {code: sum(c["max"] for c in ev.criteria(sheet, code)) for code in sheet["sheets"]} == {
        "commune": 100,
        "agency": 100,
        "district": 100,
    }
    assert ev.grade(sheet, Decimal(90)) == "excellent" and ev.grade(sheet, Decimal(49)) == "weak"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "deadlines: {commune: 31/02}\nclasses: [{code: a, min: 0}, {code: b, min: 50}]\n"
        "sheets:\n  c:\n    kinds: [village]\n    criteria:\n"
        "      - {code: x, max: -1, vi: X}\n",
        encoding="utf-8",
    )
    with pytest.raises(ev.EvaluationError) as refused:
        ev.load_sheet(bad)
    message = str(refused.value)
    assert "unknown unit kind village" in message
    assert "criterion x needs a positive max" in message
    assert "deadline of commune is not dd/mm: 31/02" in message
    assert "classes must be listed from the highest minimum down" in message


async def _world(db: Database, tmp_path: Path) -> None:
    await import_plan(db, SHIPPED_PLAN)
    units = tmp_path / "communes.csv"
    units.write_text(
        "code,name,kind,parent_code\nnd-01,Xã Một,commune,nam-dan\nnd-02,Xã Hai,commune,nam-dan\n",
        encoding="utf-8",
    )
    await import_units(db, units)
    async with db.sessions() as s:
        one = await by_code(s, "nd-01")
        assert one is not None
        base = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
        for n, ack in enumerate((dt.timedelta(hours=2), dt.timedelta(hours=30), None)):
            await s.execute(
                text(
                    "INSERT INTO tip (code_hash, category, description, unit_id, status,"
                    " anonymous, escalation_level, created_at, acknowledged_at)"
                    " VALUES (:h, 'crime', 'x', :u, 'acknowledged', true, 0, :at, :ack)"
                ),
                {"h": f"h{n}", "u": one.id, "at": base, "ack": base + ack if ack else None},
            )
        await s.commit()


async def test_self_assessment_review_decision_ranking(db: Database, tmp_path: Path) -> None:
    await _world(db, tmp_path)
    sheet = ev.load_sheet()
    now = dt.datetime(2025, 11, 20, 3, tzinfo=dt.UTC)
    today = dt.date(2025, 11, 20)
    async with db.sessions() as s:
        await s.execute(text("INSERT INTO member (id, full_name) VALUES (1, 'A'), (2, 'B')"))
        round_, new = await ev.open_round(s, 2025, sheet, actor_member_id=2)
        assert new and (await ev.open_round(s, 2025, sheet, actor_member_id=2))[1] is False
        one = await by_code(s, "nd-01")
        two = await by_code(s, "nd-02")
        nam_dan = await by_code(s, "nam-dan")
        assert one is not None and two is not None and nam_dan is not None
        e1 = await ev.evaluation_for(s, round_, one, today)
        proposed = {c: r.proposed for c, r in (await ev.scores(s, e1)).items()}
        # 1 of 3 tips acknowledged within 24 hours: a third of 10 points; no data, no proposal
        assert proposed == {
            "leadership": None,
            "propaganda": None,
            "models": None,
            "targets": None,
            "reports": None,
            "tips": Decimal("3.3"),
        }
        with pytest.raises(ev.EvaluationError, match="more than this criterion's maximum of 20"):
            await ev.score(s, round_, e1, "leadership", Decimal(21), None, today)
        with pytest.raises(ev.EvaluationError, match="Score every criterion first"):
            await ev.submit(s, round_, e1, 1, now, today)
        points = {"leadership": 18, "propaganda": 15, "models": 12, "targets": 16, "reports": 8}
        for code, value in points.items():
            await ev.score(
                s, round_, e1, code, Decimal(value), "kế hoạch số 5" * (code == "models"), today
            )
        await ev.score(s, round_, e1, "tips", Decimal("3.3"), None, today)
        assert await ev.submit(s, round_, e1, 1, now, today) == Decimal("72.3")
        with pytest.raises(ev.EvaluationError, match="already been submitted"):
            await ev.score(s, round_, e1, "tips", Decimal(4), None, today)

        # The second commune missed its deadline (30/11).
        e2 = await ev.evaluation_for(s, round_, two, dt.date(2025, 12, 1))
        with pytest.raises(ev.EvaluationError, match="deadline for Xã Hai was 30/11/2025"):
            await ev.score(s, round_, e2, "leadership", Decimal(5), None, dt.date(2025, 12, 1))

        # The superior lowers one criterion with a reason, then must give one to decide.
        with pytest.raises(ev.EvaluationError, match="reason"):
            await ev.adjust(s, round_, e1, "leadership", Decimal(14), "  ")
        await ev.adjust(s, round_, e1, "leadership", Decimal(14), "no steering committee yet")
        with pytest.raises(ev.EvaluationError, match=r"differs from the self-assessment"):
            await ev.decide(s, round_, e1, 2, None, now)
        total, klass = await ev.decide(s, round_, e1, 2, "leadership lowered", now)
        assert (total, klass) == (Decimal("68.3"), "average")

        ranking = await ev.ranking(s, round_, nam_dan)
        assert [(r.unit_code, r.status, r.total, r.lagging) for r in ranking] == [
            ("nd-01", "decided", Decimal("68.3"), False),
            ("nd-02", "draft", None, True),
        ]
        province = await by_code(s, "nghe-an")
        assert province is not None
        proposals = await ev.commendation_proposals(s, round_, province)
        assert [(p.unit_code, p.total, p.grade, p.evidence) for p in proposals] == [
            ("nd-01", Decimal("68.3"), "average", ["models: kế hoạch số 5"])
        ]
