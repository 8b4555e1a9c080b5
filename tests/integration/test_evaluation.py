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


async def test_reminders_follow_the_calendar(db: Database, tmp_path: Path) -> None:
    from bot.config import Settings
    from db.models import Identity, Member, RoleGrant
    from scheduler.evaluation import send_evaluation_reminders

    await _world(db, tmp_path)
    hcm = dt.timezone(dt.timedelta(hours=7))
    officers = {}
    async with db.sessions() as s:
        await ev.open_round(s, 2025, ev.load_sheet(), actor_member_id=None)
        for code, user in (("nd-01", "u1"), ("nd-02", "u2"), ("nam-dan", "u3")):
            unit = await by_code(s, code)
            assert unit is not None
            member = Member(full_name=user)
            s.add(member)
            await s.flush()
            officers[code] = member.id
            s.add(Identity(member_id=member.id, channel="test", external_id=user, chat_id=user))
            s.add(RoleGrant(member_id=member.id, unit_id=unit.id, role="officer"))
        await s.commit()

    async def run(day: dt.date) -> list[str]:
        now = dt.datetime(day.year, day.month, day.day, 7, tzinfo=hcm)
        await send_evaluation_reminders(db, Settings(), now)
        async with db.sessions() as s:
            keys = (await s.execute(text("SELECT dedup_key FROM outbox ORDER BY id"))).all()
        return [k[0].split(":")[-1] for k in keys]

    assert await run(dt.date(2025, 11, 22)) == []
    assert await run(dt.date(2025, 11, 23)) == ["2025-11-23", "2025-11-23"]  # both communes
    assert await run(dt.date(2025, 11, 23)) == ["2025-11-23", "2025-11-23"]  # once only
    day = dt.date(2025, 11, 24)
    async with db.sessions() as s:
        round_ = await ev.round_of(s, 2025)
        one = await by_code(s, "nd-01")
        assert round_ is not None and one is not None
        e1 = await ev.evaluation_for(s, round_, one, day)
        for c in ev.criteria(round_.sheet, "commune"):
            await ev.score(s, round_, e1, c["code"], Decimal(1), None, day)
        await ev.submit(
            s, round_, e1, officers["nd-01"], dt.datetime(2025, 11, 24, tzinfo=dt.UTC), day
        )
        await s.commit()
    assert (await run(dt.date(2025, 11, 29)))[2:] == ["2025-11-29"]  # nd-02 only
    assert (await run(dt.date(2025, 12, 8)))[3:] == ["2025-12-08"]  # the district, by 15/12
