"""What an update costs the database: the statements the engine sends, and a pool that
keeps its connections (issue 17: each round trip and each new connection is CPU and
tail latency on a busy machine)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text

from bot.config import Settings
from db.session import Database
from handlers.engine import Engine
from tests.support import Clock, Person


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent through ``db`` while the block runs (BEGIN and COMMIT,
    which asyncpg sends itself, are not among them)."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()).upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def _updates_of_conversation(sent: list[str]) -> list[str]:
    return [s for s in sent if s.startswith("UPDATE CONVERSATION")]


async def test_an_update_that_changes_no_state_sends_one_statement(db: Database) -> None:
    person = Person(Engine(db, Settings(), clock=Clock()), "400")  # type: ignore[call-arg]
    await person.say("/menu")  # the identity and the conversation exist now
    with statements(db) as sent:
        await person.say("/menu")  # the state was "no flow" and stays so
    assert len(sent) == 1, sent  # the statement that opens the update, nothing else
    assert _updates_of_conversation(sent) == []


async def test_a_step_runs_without_a_savepoint_and_saves_its_state_once(db: Database) -> None:
    person = Person(Engine(db, Settings(), clock=Clock()), "401")  # type: ignore[call-arg]
    await person.say("/lang")
    with statements(db) as sent:
        await person.press("lang:en")  # a step: sets the language and ends the flow
    assert not [s for s in sent if "SAVEPOINT" in s], sent
    assert len(_updates_of_conversation(sent)) == 1, sent  # flow, step and data at once
    assert len([s for s in sent if s.startswith("UPDATE IDENTITY")]) == 1, sent
    assert len(sent) == 3, sent  # opening statement, the two updates


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
