"""UpdateTx on real PostgreSQL: the engine's statements on the driver and the handlers'
ORM session share one transaction; errors look as SQLAlchemy's own; an outage drops
the dead connections."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.conversations import open_update, save_state
from db.models import Identity, Member, ProcessedUpdate
from db.outage import is_outage
from db.session import Database
from db.update_tx import UpdateTx
from tests.faulty_pg import FaultyPostgres

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_session_writes_in_the_same_transaction_and_commits_with_it(
    db: Database,
) -> None:
    async with UpdateTx(db) as tx:
        opened = await open_update(tx, "test", "u1", update_id="1", now=T0)
        tx.session.add(Member(full_name="Lê Văn C"))
        await tx.session.flush()
        # The driver's statements see what the session wrote, in this transaction only.
        assert (await tx.fetch("SELECT count(*) AS n FROM member"))[0]["n"] == 1
        assert await _count(db, Member) == 0 and await _count(db, Identity) == 0
        await tx.session.commit()  # joined: it does not end the update's transaction
        assert await _count(db, Member) == 0
        await tx.commit()
    assert await _count(db, Member) == 1
    assert await _count(db, ProcessedUpdate) == 1
    assert opened.identity.chat_id == "u1"


async def test_a_driver_only_update_commits_on_the_driver(db: Database) -> None:
    async with UpdateTx(db) as tx:
        opened = await open_update(tx, "test", "u1", update_id="1", now=T0)
        opened.conversation.step = "x"
        await save_state(tx, opened.conversation)
        await tx.commit()
    assert await _count(db, ProcessedUpdate) == 1 and await _count(db, Identity) == 1
    # Every connection came back to the pool clean: no transaction left open.
    pool = db.engine.pool
    raws = [await db.engine.raw_connection() for _ in range(pool.checkedin())]  # type: ignore[attr-defined]
    assert raws and not any(raw.driver_connection.is_in_transaction() for raw in raws)
    for raw in raws:
        raw.close()


async def test_leaving_without_commit_keeps_nothing(db: Database) -> None:
    async with UpdateTx(db) as tx:
        await open_update(tx, "test", "u1", update_id="1", now=T0)
        tx.session.add(Member(full_name="Lê Văn C"))
        await tx.session.flush()
    assert await _count(db, Member) == 0 and await _count(db, Identity) == 0


async def test_rollback_undoes_both_kinds_of_write_and_the_transaction_goes_on(
    db: Database,
) -> None:
    async with UpdateTx(db) as tx:
        await open_update(tx, "test", "u1", update_id="1", now=T0)
        tx.session.add(Member(full_name="Lê Văn C"))
        await tx.session.flush()
        await tx.rollback()
        # Opened again in a new transaction (the engine does this after bad input).
        opened = await open_update(tx, "test", "u1", update_id="1", now=T0)
        assert opened.fresh, "the rolled-back record of update 1 must be gone"
        opened.conversation.flow = "tip"
        await save_state(tx, opened.conversation)
        tx.session.add(Member(full_name="Trần Thị D"))  # a new session, same transaction
        await tx.commit()
    async with db.sessions() as s:
        assert (await s.scalars(select(Member.full_name))).all() == ["Trần Thị D"]
    async with UpdateTx(db) as tx:
        again = await open_update(tx, "test", "u1", update_id="2", now=T0)
        assert again.conversation.flow == "tip"


async def test_save_state_writes_the_language_with_the_state(db: Database) -> None:
    async with UpdateTx(db) as tx:
        opened = await open_update(tx, "test", "u1", update_id="1", language="vi", now=T0)
        opened.conversation.data = {"page": 2}
        await save_state(tx, opened.conversation, language="en")
        await tx.commit()
    async with UpdateTx(db) as tx:
        later = await open_update(tx, "test", "u1", update_id="2", language="vi", now=T0)
    assert later.identity.language == "en"
    assert later.conversation.data == {"page": 2}


async def test_a_driver_error_is_sqlalchemys_and_leaves_the_values_out(db: Database) -> None:
    secret = "0987654321-tipster"
    async with UpdateTx(db) as tx:
        await tx.execute(
            "INSERT INTO processed_update (channel, update_id, at) VALUES ($1, $2, $3)",
            "test",
            secret,
            T0,
        )
        with pytest.raises(IntegrityError) as caught:
            await tx.execute(
                "INSERT INTO processed_update (channel, update_id, at) VALUES ($1, $2, $3)",
                "test",
                secret,
                T0,
            )
    assert secret not in str(caught.value)
    assert not caught.value.connection_invalidated and not is_outage(caught.value)


async def test_a_stopped_database_is_an_outage_and_no_dead_connection_is_kept(
    faulty: FaultyPostgres, fdb: Database
) -> None:
    # Two connections in the pool, both idle.
    async def use() -> None:
        async with UpdateTx(fdb) as tx:
            await tx.fetch("SELECT pg_sleep(0.1)")

    await asyncio.gather(use(), use())
    await faulty.stop()
    await faulty.start()
    with pytest.raises(DBAPIError) as caught:
        async with UpdateTx(fdb) as tx:
            await open_update(tx, "test", "u1", update_id="1", now=T0)
    assert is_outage(caught.value) and caught.value.connection_invalidated
    # The other idle connection died too: it went with the pool, so the next two
    # updates (one after the other) both get a live connection at the first try.
    for update_id in ("2", "3"):
        async with UpdateTx(fdb) as tx:
            assert (await open_update(tx, "test", "u1", update_id=update_id, now=T0)).fresh
            await tx.commit()
    async with fdb.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM processed_update"))).scalar() == 2
