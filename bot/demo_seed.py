"""The demo's world: the shipped plan, two Nam Đàn communes, one person per role, some history.

``seed(session, settings)`` imports the shipped 2025 plan and the demo plan
(``db/data/demo-nam-dan.yaml``: the communes Nam Giang and Kim Liên with their
duties), makes the emulator identities, members and role grants of ``PEOPLE``,
and, once, a few days of history before ``DEMO_START``: check-ins in both
communes and two tips in Nam Giang, written with the repository functions the
flows use. Everything is idempotent: a second run finds the data and adds
nothing (the history is guarded by a ``demo.seed`` audit row). No commit here.

=============  ==========================  ========================================
persona        role                        unit
=============  ==========================  ========================================
``citizen``    none (citizens need none)   lives in Xã Nam Giang
``officer``    officer                     Xã Nam Giang
``supervisor`` supervisor                  Huyện Nam Đàn (both communes below it)
``admin``      admin                       Tỉnh Nghệ An
=============  ==========================  ========================================

The neighbour (not a persona) is subscribed to Nam Giang's announcements, so an
announcement to its subscribers reaches someone before the citizen subscribes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.emulator import CHANNEL, Persona
from bot.config import Settings
from bot.demo_cycle import seed_plan_cycle
from db import audit, subscriptions
from db import tips as tip_repo
from db.checkins import CheckinStatus, append_checkin
from db.members import MemberRecord, ensure_member, grant_role, identity_for
from db.models import Assignment, Audit, Identity, Plan, Role, Task, Unit
from db.plan_import import SHIPPED_PLAN, PlanReport, import_plan, read_plan
from db.sealed import ReporterLink
from db.units import by_code

DEMO_PLAN = Path(__file__).resolve().parents[1] / "db" / "data" / "demo-nam-dan.yaml"
DEMO_PLAN_CODE = "DEMO-NAM-DAN-2025"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# A Monday morning in the plan's year: the demo communes' first deadlines are days away.
DEMO_START = dt.datetime(2025, 5, 5, 7, 0, tzinfo=TZ)
SEED_ACTION = "demo.seed"
NAM_GIANG = (18.7302, 105.5108)


@dataclass(frozen=True)
class DemoPerson:
    persona: Persona
    role: Role | None = None
    unit: str | None = None


PEOPLE = [
    DemoPerson(
        Persona(
            "citizen",
            "Nguyễn Thị Lan",
            "Người dân",
            phone="0912 345 001",
            role_labels={"en": "Citizen"},
            lat=NAM_GIANG[0],
            lon=NAM_GIANG[1],
            description="Xã Nam Giang",
        )
    ),
    DemoPerson(
        Persona(
            "officer",
            "Trần Văn Hùng",
            "Công an xã",
            phone="0912 345 002",
            role_labels={"en": "Commune officer"},
            lat=NAM_GIANG[0],
            lon=NAM_GIANG[1],
            description="Xã Nam Giang",
        ),
        Role.OFFICER,
        "nam-giang",
    ),
    DemoPerson(
        Persona(
            "supervisor",
            "Lê Minh Tuấn",
            "Chỉ huy Công an huyện",
            phone="0912 345 003",
            role_labels={"en": "District supervisor"},
            description="Huyện Nam Đàn",
        ),
        Role.SUPERVISOR,
        "nam-dan",
    ),
    DemoPerson(
        Persona(
            "admin",
            "Phạm Quốc Bảo",
            "Quản trị viên tỉnh",
            phone="0912 345 004",
            role_labels={"en": "Province administrator"},
            description="Tỉnh Nghệ An",
        ),
        Role.ADMIN,
        "nghe-an",
    ),
]
PERSONAS = [p.persona for p in PEOPLE]

# Not personas: Kim Liên's officer (so the district has two communes reporting)
# and the neighbour whose earlier tips are in Nam Giang's inbox.
KIM_LIEN_OFFICER = DemoPerson(
    Persona("kim-lien-officer", "Hoàng Thị Mai", "Công an xã"), Role.OFFICER, "kim-lien"
)
# The district's officer, who submitted its six-month report (bot.demo_cycle).
DISTRICT_OFFICER = DemoPerson(
    Persona("nam-dan-officer", "Nguyễn Văn Đức", "Công an huyện"), Role.OFFICER, "nam-dan"
)
REPORTER = Persona("neighbour", "Võ Văn Sơn", "Người dân")


@dataclass
class SeedReport:
    plans: list[tuple[str, PlanReport]] = field(default_factory=list)  # (file, report)
    history_added: bool = False


async def seed(session: AsyncSession, settings: Settings) -> SeedReport:
    """Plans, people and (once) history; in the caller's transaction."""
    report = SeedReport()
    for path in (SHIPPED_PLAN, DEMO_PLAN):
        plan = read_plan(path)
        report.plans.append((plan.file, await import_plan(session, plan)))
    members: dict[str, MemberRecord] = {}
    for person in [*PEOPLE, KIM_LIEN_OFFICER, DISTRICT_OFFICER]:
        member = await _person(session, settings, person)
        if member is not None:
            members[person.persona.id] = member
    # The neighbour already receives Nam Giang's announcements (the citizen persona may join).
    neighbour = await _identity(session, settings, REPORTER)
    nam_giang = await by_code(session, "nam-giang")
    if nam_giang is not None:
        await subscriptions.subscribe(session, neighbour.id, nam_giang.id, DEMO_START)
    if await session.scalar(select(Audit.id).where(Audit.action == SEED_ACTION).limit(1)) is None:
        await _history(session, settings, members)
        await seed_plan_cycle(
            session, members["nam-dan-officer"], members["kim-lien-officer"], _days_before(1, 16)
        )
        audit.record(
            session,
            SEED_ACTION,
            actor_member_id=None,
            object_kind="plan",
            object_id=DEMO_PLAN_CODE,
            data={"start": DEMO_START.isoformat()},
        )
        report.history_added = True
    return report


async def _identity(session: AsyncSession, settings: Settings, persona: Persona) -> Identity:
    return await identity_for(
        session, CHANNEL, persona.id, display_name=persona.name, language=settings.default_language
    )


async def _person(
    session: AsyncSession, settings: Settings, person: DemoPerson
) -> MemberRecord | None:
    """The persona's identity; a member with its grant for all but the citizen."""
    identity = await _identity(session, settings, person.persona)
    if person.role is None or person.unit is None:
        return None  # citizens need no registration
    member = await ensure_member(session, identity, person.persona.name)
    unit = await by_code(session, person.unit)
    if unit is None:
        raise LookupError(f"demo unit {person.unit} is missing")
    unit = await tip_repo.current_unit(session, unit)  # after the demo's reorganisation
    if unit.valid_to is None:
        await grant_role(session, member.id, unit.id, person.role, granted_by=None)
    return member


async def _assignment(session: AsyncSession, task: str, unit: str) -> int:
    stmt = (
        select(Assignment.id)
        .join(Task, Task.id == Assignment.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Plan.code == DEMO_PLAN_CODE, Task.code == task, Unit.code == unit)
    )
    return int((await session.execute(stmt)).scalar_one())


def _days_before(days: int, hour: int, minute: int = 0) -> dt.datetime:
    day = DEMO_START.date() - dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(dt.UTC)


async def _history(
    session: AsyncSession, settings: Settings, members: dict[str, MemberRecord]
) -> None:
    hung, mai = members["officer"].id, members["kim-lien-officer"].id
    checkins = [
        # (task, unit, member, days before the start, hour, status, value, period, note)
        (
            "demo-security-cameras",
            "kim-lien",
            mai,
            6,
            15,
            CheckinStatus.DONE,
            "12",
            None,
            "Đã lắp đủ 12 camera tại 12 xóm, kết nối về trụ sở Công an xã.",
        ),
        ("demo-monthly-report", "kim-lien", mai, 5, 9, CheckinStatus.DONE, None, "2025-04", None),
        (
            "demo-grassroots-training",
            "nam-giang",
            hung,
            4,
            14,
            CheckinStatus.IN_PROGRESS,
            "40",
            None,
            "Đã tập huấn 2/5 tổ bảo vệ ANTT.",
        ),
        (
            "demo-security-cameras",
            "nam-giang",
            hung,
            3,
            10,
            CheckinStatus.IN_PROGRESS,
            "8",
            None,
            "Đã lắp 8 camera tại xóm 1, 2, 3; chờ kinh phí cho các xóm còn lại.",
        ),
        (
            "demo-grassroots-training",
            "kim-lien",
            mai,
            2,
            16,
            CheckinStatus.IN_PROGRESS,
            "75",
            None,
            None,
        ),
        (
            "demo-drug-free-commune",
            "kim-lien",
            mai,
            1,
            11,
            CheckinStatus.BLOCKED,
            None,
            None,
            "Chờ kết quả xác minh 2 trường hợp nghi sử dụng ma túy.",
        ),
    ]
    for task, unit, member_id, days, hour, status, value, period, note in checkins:
        await append_checkin(
            session,
            assignment_id=await _assignment(session, task, unit),
            member_id=member_id,
            at=_days_before(days, hour),
            status=status.value,
            value=Decimal(value) if value is not None else None,
            period=period,
            note=note,
        )
    await _tips(session, settings)


async def _tips(session: AsyncSession, settings: Settings) -> None:
    unit = await by_code(session, "nam-giang")
    assert unit is not None
    reporter = await _identity(session, settings, REPORTER)
    link = ReporterLink(identity_id=reporter.id, channel=CHANNEL, chat_id=reporter.chat_id)
    tips = [
        (
            "drugs",
            2,
            21,
            "Có nhóm thanh niên tụ tập ở bãi sông xóm 5 vào ban đêm, nghi sử dụng ma túy.",
            True,
        ),
        (
            "traffic",
            1,
            17,
            "Xe tải chở cát chạy quá tốc độ qua cổng trường tiểu học vào giờ tan học.",
            False,
        ),
    ]
    for category, days, hour, text, acknowledged in tips:
        at = _days_before(days, hour)
        draft = tip_repo.TipDraft(
            category=category,
            description=text,
            unit_id=unit.id,
            channel=CHANNEL,
            routed_by="named",
            place_text="Xã Nam Giang",
        )
        tip, _code = await tip_repo.create_tip(session, settings, draft, link, now=at)
        if acknowledged:
            later = at + dt.timedelta(hours=11)
            await tip_repo.acknowledge(session, tip.id, later)
            tip_repo.add_event(session, tip.id, tip_repo.EventKind.ACKNOWLEDGED, at=later)
