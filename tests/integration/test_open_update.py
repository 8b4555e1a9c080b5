"""open_update on real PostgreSQL: the one statement that starts every update.

It must create what is missing, spot a redelivered update id, remember when
the previous update came, load only active grants, and lock one person's
conversation (latest state seen after the wait) without blocking anyone else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from bot.config import Settings
from db.conversations import Opened, open_update, save_state
from db.members import ensure_member, grant_role, revoke_role
from db.models import Role, UnitKind
from db.sealed import open_time
from db.session import Database
from db.update_tx import UpdateTx
from tests.integration.plan_fixtures import add_unit
from tests.support import TEST_KEY

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
DAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
SETTINGS = Settings(secret_key=TEST_KEY)  # type: ignore[arg-type]


async def _open(tx: UpdateTx, user: str, update_id: str | None, now: dt.datetime = T0) -> Opened:
    return await open_update(
        tx,
        "test",
        user,
        update_id=update_id,
        display_name="Lê Thị B",
        language="vi",
        now=now,
        settings=SETTINGS,
    )


async def _rows(tx: UpdateTx, identity_id: int) -> Any:
    """The person's identity and conversation rows as stored (in ``tx``)."""
    (row,) = await tx.fetch(
        "SELECT i.external_id, i.created_at, i.last_seen_at, c.updated_at, c.touched"
        " FROM identity i JOIN conversation c ON c.identity_id = i.id WHERE i.id = $1",
        identity_id,
    )
    return row


async def test_first_update_creates_identity_and_conversation(db: Database) -> None:
    async with UpdateTx(db) as tx:
        opened = await _open(tx, "u1", "1")
        assert opened.fresh
        assert opened.member is None and opened.grants == []
        assert opened.identity.chat_id == "u1" and opened.identity.language == "vi"
        assert opened.conversation.identity_id == opened.identity.id
        assert opened.conversation.flow is None and opened.conversation.data == {}
        assert opened.previous_at is None
        # A person's rows keep only the day; the precise time is sealed.
        row = await _rows(tx, opened.identity.id)
        assert row["last_seen_at"] == DAY and row["created_at"] == DAY
        assert row["updated_at"] == DAY and row["external_id"] == "u1"
        assert open_time(SETTINGS, row["touched"]) == T0
        await tx.commit()


async def test_redelivered_update_id_is_not_fresh(db: Database) -> None:
    async with UpdateTx(db) as tx:
        assert (await _open(tx, "u1", "7")).fresh
        await tx.commit()
    async with UpdateTx(db) as tx:
        assert not (await _open(tx, "u1", "7")).fresh
    async with UpdateTx(db) as tx:  # updates without an id are always handled
        assert (await _open(tx, "u1", None)).fresh


async def test_previous_at_is_the_time_of_the_update_before(db: Database) -> None:
    later = T0 + dt.timedelta(minutes=45)
    async with UpdateTx(db) as tx:
        await _open(tx, "u1", "1", T0)
        await tx.commit()
    async with UpdateTx(db) as tx:
        opened = await _open(tx, "u1", "2", later)
        assert opened.previous_at == T0
        row = await _rows(tx, opened.identity.id)
        assert row["updated_at"] == DAY and row["last_seen_at"] == DAY
        assert b"2026" not in (row["touched"] or b"")
        other_key = Settings(secret_key="another-key-entirely")  # type: ignore[arg-type]
        assert open_time(other_key, opened.conversation.touched_before) is None
        # Not committed (a failed or redelivered update): it leaves no trace.
    async with UpdateTx(db) as tx:
        opened = await _open(tx, "u1", "3", later + dt.timedelta(minutes=1))
        assert opened.previous_at == T0


async def test_only_active_grants_are_loaded_by_depth(db: Database) -> None:
    async with UpdateTx(db) as tx:
        s = tx.session
        province = await add_unit(s, "p", "Tỉnh Nghệ An", UnitKind.PROVINCE)
        district = await add_unit(s, "d", "Huyện Nam Đàn", UnitKind.DISTRICT, province)
        commune = await add_unit(s, "c", "Xã Nam Anh", UnitKind.COMMUNE, district)
        opened = await _open(tx, "u1", "1")
        member = await ensure_member(s, opened.identity, "Lê Thị B")
        await grant_role(s, member.id, commune.id, Role.FORCE, granted_by=None)
        await grant_role(s, member.id, province.id, Role.ADMIN, granted_by=None)
        await grant_role(s, member.id, district.id, Role.SUPERVISOR, granted_by=None)
        await revoke_role(s, member.id, district.id, Role.SUPERVISOR, revoked_by=None)
        await tx.commit()
    async with UpdateTx(db) as tx:
        opened = await _open(tx, "u1", "2")
        assert opened.member is not None and opened.member.full_name == "Lê Thị B"
        assert [(g.role, g.unit.code) for g in opened.grants] == [
            (Role.ADMIN, "p"),
            (Role.FORCE, "c"),
        ]


async def test_one_persons_updates_wait_and_see_the_latest_state(db: Database) -> None:
    async with UpdateTx(db) as tx:
        await _open(tx, "u1", "1")
        await tx.commit()
    first = UpdateTx(db)
    async with first:
        opened = await _open(first, "u1", "2")
        opened.conversation.flow = "tip"
        opened.conversation.step = "describe"
        await save_state(first, opened.conversation)

        async def second() -> tuple[str | None, str | None]:
            async with UpdateTx(db) as tx:
                seen = (await _open(tx, "u1", "3")).conversation
                return seen.flow, seen.step

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "a second update of the same person must wait for the lock"

        async def other_person() -> bool:
            async with UpdateTx(db) as tx:
                return (await _open(tx, "u2", "4")).fresh

        # Someone else is not held up by u1's lock.
        assert await asyncio.wait_for(other_person(), timeout=5)
        await first.commit()
    # The waiting statement saw the row as the first transaction left it.
    assert await asyncio.wait_for(waiting, timeout=5) == ("tip", "describe")
