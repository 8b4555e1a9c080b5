"""Invites on real PostgreSQL: create, check, redeem; expiry, use limits, code forms, hashing."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, text

from db.invites import (
    ALPHABET,
    CODE_LENGTH,
    InviteStatus,
    check_invite,
    create_invite,
    redeem_invite,
)
from db.members import active_grants
from db.models import Invite, Member, Role
from db.session import Database, UnitOfWork
from tests.integration.import_support import import_units
from tests.support import TEST_KEY

T0 = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
async def unit_id(db: Database, tmp_path: Path) -> int:
    csv_file = tmp_path / "units.csv"
    csv_file.write_text(
        "code,name,kind,parent_code\nna,Tỉnh Nghệ An,province,\nvinh,Thành phố Vinh,city,na\n",
        encoding="utf-8",
    )
    await import_units(db, csv_file)
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT id FROM unit WHERE code='vinh'"))).scalar_one())


async def _members(db: Database, n: int) -> list[int]:
    async with UnitOfWork(db) as uow:
        people = [Member(full_name=f"Người {i}") for i in range(n)]
        uow.session.add_all(people)
        await uow.session.flush()
        await uow.commit()
        return [p.id for p in people]


async def _create(db: Database, unit_id: int, **kwargs: object) -> str:
    async with UnitOfWork(db) as uow:
        code = await create_invite(uow.session, unit_id=unit_id, **kwargs)  # type: ignore[arg-type]
        await uow.commit()
    return code


async def _redeem(db: Database, code: str, member_id: int, now: dt.datetime) -> InviteStatus:
    """Check the code, then redeem the invite it found, as the join flow does."""
    async with UnitOfWork(db) as uow:
        found = await check_invite(uow.session, code, now=now)
        if found.invite is None:
            return found.status
        result = await redeem_invite(uow.session, found.invite.id, member_id, now=now)
        await uow.commit()
    return result.status


async def _check(db: Database, code: str, now: dt.datetime) -> InviteStatus:
    async with db.sessions() as session:
        return (await check_invite(session, code, now=now)).status


async def test_create_check_redeem_grants_the_role(db: Database, unit_id: int) -> None:
    (member,) = await _members(db, 1)
    code = await _create(db, unit_id, role=Role.OFFICER, now=T0)
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)

    async with db.sessions() as session:
        checked = await check_invite(session, code, now=T0)
    assert checked.status is InviteStatus.OK
    assert checked.unit is not None and checked.unit.code == "vinh"

    assert await _redeem(db, code, member, T0) is InviteStatus.OK
    async with db.sessions() as session:
        grants = await active_grants(session, member)
    assert [(g.role, g.unit.code) for g in grants] == [(Role.OFFICER, "vinh")]
    # one use by default: the code is spent
    assert await _check(db, code, T0) is InviteStatus.USED_UP


async def test_expiry(db: Database, unit_id: int) -> None:
    (member,) = await _members(db, 1)
    code = await _create(db, unit_id, role=Role.FORCE, days=7, now=T0)
    last_moment = T0 + dt.timedelta(days=7) - dt.timedelta(seconds=1)
    assert await _check(db, code, last_moment) is InviteStatus.OK
    expired = T0 + dt.timedelta(days=7)
    assert await _check(db, code, expired) is InviteStatus.EXPIRED
    assert await _redeem(db, code, member, expired) is InviteStatus.EXPIRED
    async with db.sessions() as session:
        assert await active_grants(session, member) == []
        assert (await session.execute(select(Invite.uses))).scalar_one() == 0


async def test_use_limit(db: Database, unit_id: int) -> None:
    first, second, third = await _members(db, 3)
    code = await _create(db, unit_id, role=Role.FORCE, max_uses=2, now=T0)
    assert await _redeem(db, code, first, T0) is InviteStatus.OK
    assert await _redeem(db, code, second, T0) is InviteStatus.OK
    assert await _redeem(db, code, third, T0) is InviteStatus.USED_UP
    async with db.sessions() as session:
        assert (await session.execute(select(Invite.uses))).scalar_one() == 2
        assert await active_grants(session, third) == []
        assert len(await active_grants(session, second)) == 1


async def test_a_redemption_writes_its_grant_and_both_audit_rows(
    db: Database, unit_id: int
) -> None:
    (creator, member) = await _members(db, 2)
    code = await _create(db, unit_id, role=Role.OFFICER, max_uses=2, created_by=creator, now=T0)
    async with UnitOfWork(db) as uow:
        found = await check_invite(uow.session, code, now=T0)
        assert found.invite is not None
        first = await redeem_invite(uow.session, found.invite.id, member, now=T0, checked=found)
        # The same role again (another use of the invite): counted, nothing granted.
        again = await redeem_invite(uow.session, found.invite.id, member, now=T0)
        await uow.commit()
    assert first.status is InviteStatus.OK and again.status is InviteStatus.OK
    async with db.engine.connect() as conn:
        grant = (await conn.execute(text("SELECT id, granted_by FROM role_grant"))).one()
        uses = (await conn.execute(text("SELECT uses FROM invite"))).scalar_one()
        rows = (
            await conn.execute(
                text(
                    "SELECT action, actor_member_id, object_kind, object_id, data FROM audit"
                    " WHERE action IN ('role.grant', 'invite.redeem') ORDER BY id"
                )
            )
        ).all()
    assert first.grant_id == grant.id and again.grant_id is None
    assert grant.granted_by == creator and uses == 2
    invite_id = str(found.invite.id)
    assert [tuple(r) for r in rows] == [
        (
            "role.grant",
            creator,
            "member",
            str(member),
            {"unit_id": unit_id, "role": "officer", "grant_id": grant.id},
        ),
        ("invite.redeem", member, "invite", invite_id, {}),
        ("invite.redeem", member, "invite", invite_id, {}),
    ]


async def test_racing_for_the_last_use(db: Database, unit_id: int) -> None:
    people = await _members(db, 2)
    code = await _create(db, unit_id, role=Role.FORCE, max_uses=1, now=T0)
    results = await asyncio.gather(*(_redeem(db, code, m, T0) for m in people))
    assert sorted(results) == sorted([InviteStatus.OK, InviteStatus.USED_UP])
    async with db.sessions() as session:
        assert (await session.execute(select(Invite.uses))).scalar_one() == 1


async def test_code_is_normalised(db: Database, unit_id: int) -> None:
    code = await _create(db, unit_id, role=Role.SUPERVISOR, now=T0)
    spaced = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    dashed = "-".join(code[i : i + 4] for i in range(0, len(code), 4))
    for typed in (code.lower(), f"  {spaced}  ", dashed, f"inv_{code}", f"INV_{code.lower()}"):
        assert await _check(db, typed, T0) is InviteStatus.OK, typed
    assert await _check(db, code[:-1], T0) is InviteStatus.UNKNOWN
    assert await _check(db, "", T0) is InviteStatus.UNKNOWN
    assert await _check(db, "inv_", T0) is InviteStatus.UNKNOWN


async def test_only_the_hash_is_stored(db: Database, unit_id: int) -> None:
    code = await _create(db, unit_id, role=Role.ADMIN, now=T0)
    async with db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT * FROM invite"))).one()
        audit = (await conn.execute(text("SELECT data::text FROM audit"))).scalars().all()
    assert code not in " ".join(str(v) for v in stored)
    assert code.lower() not in " ".join(str(v).lower() for v in stored)
    # A keyed digest (HMAC-SHA-256, key from ANTT_SECRET_KEY by HKDF), not a plain hash.
    key = HKDF(hashes.SHA256(), 32, None, b"antt/invite-code/v1").derive(TEST_KEY.encode())
    assert stored._mapping["code_hash"] == hmac.new(key, code.encode(), "sha256").hexdigest()
    assert stored._mapping["code_hash"] != hashlib.sha256(code.encode()).hexdigest()
    assert stored._mapping["legacy_hash"] is False
    assert all(code not in data for data in audit)


async def test_an_invite_made_before_keyed_digests_still_works_and_is_rekeyed(
    db: Database, unit_id: int
) -> None:
    code = "ABCDEFGHJKMN"
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO invite (code_hash, legacy_hash, unit_id, role, expires_at, max_uses,"
                " uses) VALUES (:h, true, :u, 'officer', :e, 1, 0)"
            ),
            {
                "h": hashlib.sha256(code.encode()).hexdigest(),
                "u": unit_id,
                "e": T0 + dt.timedelta(days=1),
            },
        )
    async with UnitOfWork(db) as uow:
        assert (await check_invite(uow.session, code.lower(), now=T0)).status is InviteStatus.OK
        await uow.commit()
    async with db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT code_hash, legacy_hash FROM invite"))).one()
    assert stored.code_hash != hashlib.sha256(code.encode()).hexdigest() and not stored.legacy_hash
    assert await _check(db, code, T0) is InviteStatus.OK
    # A plain hash that is not marked legacy is not accepted (no downgrade to SHA-256).
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE invite SET code_hash = :h"),
            {"h": hashlib.sha256(code.encode()).hexdigest()},
        )
    assert await _check(db, code, T0) is InviteStatus.UNKNOWN


async def test_revoked_invite(db: Database, unit_id: int) -> None:
    (member,) = await _members(db, 1)
    code = await _create(db, unit_id, role=Role.OFFICER, now=T0)
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE invite SET revoked_at = :t"), {"t": T0})
    assert await _check(db, code, T0) is InviteStatus.REVOKED
    assert await _redeem(db, code, member, T0) is InviteStatus.REVOKED


async def test_bad_limits_are_refused(db: Database, unit_id: int) -> None:
    with pytest.raises(ValueError):
        await _create(db, unit_id, role=Role.OFFICER, max_uses=0)
    with pytest.raises(ValueError):
        await _create(db, unit_id, role=Role.OFFICER, days=0)
