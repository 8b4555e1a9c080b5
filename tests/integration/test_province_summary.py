"""Summary first on a province-sized tree (17 districts, 480 communes, the real plan's
task titles and tip categories): every supervisor answer opens with one phone screen
(at most 1,000 characters) that leads with what needs action, and no message ever
passes Telegram's 4,096 characters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import yaml

from db.checkins import append_checkin
from db.models import Assignment, Member, Plan, Role, Task, TaskKind, Tip, TipCategory, UnitKind
from db.plan_import import SHIPPED_PLAN
from db.session import Database
from handlers.render import to_plain
from handlers.types import Reply
from tests.integration.plan_fixtures import add_unit, enrol, make_engine
from tests.support import Clock

NOW = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)  # 09:00 in Hồ Chí Minh City
SCREEN = 1000
TELEGRAM = 4096


def check(reply: Reply, what: str) -> str:
    """The first message fits a screen, none passes the limit; the first message's text."""
    assert reply, what
    texts = [to_plain(m.text) for m in reply]
    assert len(texts[0]) <= SCREEN, (what, len(texts[0]), texts[0])
    assert all(len(t) <= TELEGRAM for t in texts), (what, [len(t) for t in texts])
    return texts[0]


async def province(db: Database) -> dict[str, object]:
    data = yaml.safe_load(SHIPPED_PLAN.read_text(encoding="utf-8"))
    titles = [t["title"] for t in data["tasks"]][:6]
    async with db.sessions() as s:
        for i, c in enumerate(data["tip_categories"]):
            s.add(TipCategory(code=c["code"], title_vi=c["vi"], title_en=c["en"], sort=i))
        top = await add_unit(s, "tinh", "Tỉnh Nghệ An", UnitKind.PROVINCE)
        districts, communes = [], []
        for d in range(17):
            district = await add_unit(
                s, f"h{d:02d}", f"Huyện Miền Tây Số {d:02d}", UnitKind.DISTRICT, top
            )
            districts.append(district)
            for c in range(28 + (1 if d < 4 else 0)):  # 17 * 28 + 4 = 480
                communes.append(
                    await add_unit(
                        s,
                        f"x{d:02d}{c:02d}",
                        f"Xã Thượng Nguồn {d:02d}-{c:02d}",
                        UnitKind.COMMUNE,
                        district,
                    )
                )
        plan = Plan(code="KH-TINH", title_vi="Kế hoạch", title_en="Plan", year=2025)
        s.add(plan)
        await s.flush()
        tasks = []
        for i, title in enumerate(titles):
            kind = TaskKind.COUNT if i % 2 == 0 else TaskKind.MILESTONE
            task = Task(
                plan_id=plan.id,
                code=f"t{i}",
                kind=kind.value,
                title_vi=title["vi"],
                title_en=title["en"],
                sort=i,
            )
            s.add(task)
            tasks.append(task)
        await s.flush()
        rows = []
        for n, commune in enumerate(communes):
            for i, task in enumerate(tasks):
                # A third overdue, the rest due later in the year.
                deadline = dt.date(2025, 4, 30) if (n + i) % 3 == 0 else dt.date(2025, 12, 31)
                target = Decimal(20) if task.kind == TaskKind.COUNT.value else None
                rows.append(
                    Assignment(
                        task_id=task.id, unit_id=commune.id, deadline=deadline, target=target
                    )
                )
        s.add_all(rows)
        member = Member(full_name="Cán bộ xã")
        s.add(member)
        await s.flush()
        for row in rows[::7]:
            done = row.target is None
            await append_checkin(
                s,
                assignment_id=row.id,
                member_id=member.id,
                at=NOW - dt.timedelta(hours=3),
                status="done" if done else "in_progress",
                value=None if done else Decimal(15),
            )
        codes = [c["code"] for c in data["tip_categories"]]
        for n in range(60):
            s.add(
                Tip(
                    code_hash=f"province-{n}",
                    category=codes[n % len(codes)],
                    description=f"Tin số {n}",
                    unit_id=communes[(n * 37) % len(communes)].id,
                    status="new",
                    anonymous=True,
                    created_at=NOW - dt.timedelta(hours=30 if n % 2 else 2),
                )
            )
        await s.commit()
        return {"top": top, "district": districts[0]}


async def test_every_supervisor_answer_opens_with_one_screen(db: Database) -> None:
    tree = await province(db)
    engine = make_engine(db, Clock(NOW))
    boss = await enrol(db, engine, "tinh-1", tree["top"], Role.SUPERVISOR, language="vi")  # type: ignore[arg-type]

    first = check(await boss.say("/progress"), "/progress of the province")
    assert first.startswith("Tiến độ: Tỉnh Nghệ An")
    assert "…và " in first, "the rest is counted, not listed"
    district_buttons = [c for c in boss.choices if c.startswith("pg:u:")]
    assert len(district_buttons) <= 12, "a page of districts, not 17 at once"
    check(await boss.press(district_buttons[0]), "/progress of a district")
    for choice in [c for c in boss.choices if c.startswith(("pg:k:", "pg:o:"))]:
        check(await boss.press(choice), choice)
    check(await boss.press(f"pg:k:{tree['top'].id}:1"), "by task, page 2")  # type: ignore[attr-defined]

    reply = await boss.say("/digest")
    first = check(reply, "/digest of the province")
    assert reply[0].image is not None, "the chart goes with the summary"
    assert first.index("Tin báo chưa được tiếp nhận quá 24 giờ: 30") < first.index("Quá hạn:")

    first = check(await boss.say("/tips"), "/tips of the province")
    assert "Chưa tiếp nhận: 60" in first
    assert all(
        c.label.startswith("Mới #")
        for m in boss.last
        for c in m.choices
        if c.id.startswith("tr:open:")
    )
