"""What an update costs the database: the statements the engine sends, and a pool that
keeps its connections (issue 17: each round trip and each new connection is CPU and
tail latency on a busy machine)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from asyncpg.connection import LoggedQuery
from sqlalchemy import event, text

from bot.config import Settings
from db.invites import create_invite
from db.models import Role, UnitKind
from db.session import Database
from handlers.engine import Engine
from tests.integration.plan_fixtures import add_unit
from tests.support import Clock, Person


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement sent to PostgreSQL through ``db`` while the block runs: those
    SQLAlchemy executes (its events) and those run on the driver itself, BEGIN and
    COMMIT among them (asyncpg's query logger, on every connection of the pool)."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()).upper())

    def logged(query: LoggedQuery) -> None:
        sent.append(" ".join(query.query.split()).upper())

    def on_connect(dbapi_connection, record_):  # type: ignore[no-untyped-def]
        dbapi_connection.driver_connection.add_query_logger(logged)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    event.listen(db.engine.sync_engine, "connect", on_connect)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        event.remove(db.engine.sync_engine, "connect", on_connect)


@pytest.fixture
async def fresh_db(pg_url: str, db: Database) -> AsyncIterator[Database]:
    """The emptied test database through a pool of its own (its connections are new,
    so ``statements`` sees every one of them)."""
    database = Database(pg_url, pool_size=2)
    yield database
    await database.dispose()


def _updates_of(table: str, sent: list[str]) -> list[str]:
    return [s for s in sent if f"UPDATE {table}" in s]


async def test_an_update_that_changes_no_state_is_three_round_trips(fresh_db: Database) -> None:
    person = Person(Engine(fresh_db, Settings(), clock=Clock()), "400")  # type: ignore[call-arg]
    with statements(fresh_db) as sent:
        await person.say("/menu")  # the identity and the conversation exist now
        await asyncio.sleep(0.05)  # asyncpg hands its log over at a later turn of the loop
        sent.clear()
        await person.say("/menu")  # the state was "no flow" and stays so
        await asyncio.sleep(0.05)
    assert [s.split()[0] for s in sent] == ["BEGIN;", "WITH", "COMMIT;"], sent
    assert _updates_of("CONVERSATION", sent) == []


async def test_a_step_saves_the_state_and_the_language_in_one_statement(
    fresh_db: Database,
) -> None:
    person = Person(Engine(fresh_db, Settings(), clock=Clock()), "401")  # type: ignore[call-arg]
    with statements(fresh_db) as sent:
        await person.say("/lang")
        await asyncio.sleep(0.05)
        sent.clear()
        await person.press("lang:en")  # a step: sets the language and ends the flow
        await asyncio.sleep(0.05)
    assert not [s for s in sent if "SAVEPOINT" in s], sent
    # BEGIN, the opening statement, the next state (flow, step, data and language), COMMIT
    assert len(sent) == 4, sent
    (saved,) = _updates_of("CONVERSATION", sent)
    assert "UPDATE IDENTITY SET LANGUAGE" in saved, saved
    await person.say("/me")
    assert "Language: English" in person.text  # it was written


async def test_joining_by_invite_is_seven_round_trips(db: Database, fresh_db: Database) -> None:
    clock = Clock()
    async with db.sessions() as s:  # not through fresh_db: its connections must be new
        unit = await add_unit(s, "c", "Xã Nam Anh", UnitKind.COMMUNE)
        code = await create_invite(s, unit_id=unit.id, role=Role.FORCE, now=clock())
        await s.commit()
    person = Person(Engine(fresh_db, Settings(), clock=clock), "402", name="Lê Văn Nam")  # type: ignore[call-arg]
    with statements(fresh_db) as sent:
        await person.say(f"/start inv_{code}")
        await asyncio.sleep(0.05)
        sent.clear()
        await person.press(person.choice_labelled("Lê Văn Nam"))  # join with that name
        await asyncio.sleep(0.05)
    # The menu already shows the new role's entry (the grants were not read again).
    assert "Xã Nam Anh" in person.text and "m:tasks" in person.choices
    # BEGIN, the opening statement, the invite checked, the member made and linked, the
    # use with the grant and its audit rows, the next state, COMMIT (twelve before).
    assert len(sent) == 7, sent


async def test_the_pool_keeps_every_connection_it_opens(pg_url: str) -> None:
    database = Database(pg_url, pool_size=2)  # up to twice that many connections
    try:

        async def hold() -> None:
            async with database.engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(0.2)"))

        await asyncio.gather(*(hold() for _ in range(4)))
        # All four came back and stay open for the next burst (an overflow connection
        # would have been closed on its way back and opened again the next time).
        assert database.engine.pool.checkedin() == 4  # type: ignore[attr-defined]
        await asyncio.gather(*(hold() for _ in range(4)))
        assert database.engine.pool.checkedin() == 4  # type: ignore[attr-defined]
    finally:
        await database.dispose()
