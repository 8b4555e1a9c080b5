"""The demo's data: plans, people with their roles, history; a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from bot.config import Settings
from bot.demo_seed import DEMO_PLAN_CODE, PEOPLE, seed
from db.members import active_grants
from db.models import Checkin, Identity, Member, Role, RoleGrant, Tip, Unit
from db.session import Database, UnitOfWork

TABLES = (Unit, Member, Identity, RoleGrant, Checkin, Tip)


async def _counts(db: Database) -> dict[str, int]:
    async with db.sessions() as session:
        return {
            t.__tablename__: int(await session.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }


async def test_seed_twice(db: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    async with UnitOfWork(db) as uow:
        first = await seed(uow.session, settings)
        await uow.commit()
    assert first.history_added
    assert [r.plan_code for _, r in first.plans][1] == DEMO_PLAN_CODE
    counts = await _counts(db)
    assert counts["checkin"] == 7 and counts["tip"] == 2  # 6 + the six-month report

    async with UnitOfWork(db) as uow:
        again = await seed(uow.session, settings)
        await uow.commit()
    assert not again.history_added
    assert not any(r.stats.changed for _, r in again.plans)
    assert await _counts(db) == counts

    async with db.sessions() as session:
        units = dict(
            (
                await session.execute(
                    text(
                        "SELECT u.code, p.code FROM unit u JOIN unit p ON p.id = u.parent_id "
                        "WHERE u.code IN ('nam-giang', 'kim-lien')"
                    )
                )
            ).all()
        )
        assert units == {"nam-giang": "nam-dan", "kim-lien": "nam-dan"}
        for person in PEOPLE:
            identity = (
                await session.execute(
                    select(Identity).where(
                        Identity.channel == "emulator", Identity.external_id == person.persona.id
                    )
                )
            ).scalar_one()
            if person.role is None:
                assert identity.member_id is None  # a citizen needs no registration
                continue
            assert identity.member_id is not None
            grants = await active_grants(session, identity.member_id)
            assert [(g.role, g.unit.code) for g in grants] == [(person.role, person.unit)]
        officer_units = (
            await session.execute(
                select(Unit.code)
                .join(RoleGrant, RoleGrant.unit_id == Unit.id)
                .where(RoleGrant.role == Role.OFFICER.value)
                .order_by(Unit.code)
            )
        ).scalars()
        assert list(officer_units) == ["kim-lien", "nam-dan", "nam-giang"]
