"""The engine on real PostgreSQL: state, redelivery, global commands, idle, ordering."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from bot.config import Settings
from db.models import Conversation, Identity, ProcessedUpdate
from db.session import Database
from handlers.engine import Engine
from handlers.types import Incoming
from tests.support import Clock, Person


def make_engine(db: Database, clock: Clock | None = None, **settings: object) -> Engine:
    return Engine(db, Settings(**settings), clock=clock or Clock())  # type: ignore[arg-type]


async def test_start_shows_menu_and_emergency_numbers(db: Database) -> None:
    person = Person(make_engine(db), "100")
    await person.say("/start")
    assert "113" in person.text and "114" in person.text and "115" in person.text
    assert person.choices, "the main menu has buttons"


async def test_duplicate_update_is_handled_once(db: Database) -> None:
    engine = make_engine(db)
    inp = Incoming(channel="test", user_id="7", chat_id="7", update_id="dup-1", command="start")
    first = await engine.handle(inp)
    second = await engine.handle(inp)
    assert first and second == []
    async with db.sessions() as s:
        count = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
        identities = await s.scalar(select(func.count()).select_from(Identity))
    assert count == 1 and identities == 1


async def test_lang_switches_language_and_persists(db: Database) -> None:
    person = Person(make_engine(db), "101", language_code="vi")
    await person.say("/lang")
    await person.press("lang:en")
    await person.say("/help")
    assert "/cancel" in person.text
    assert "main menu" in person.text
    await person.press("lang:vi")  # a stale button outside the flow changes nothing
    async with db.sessions() as s:
        lang = await s.scalar(select(Identity.language).where(Identity.external_id == "101"))
    assert lang == "en"


async def test_bad_language_choice_asks_again(db: Database) -> None:
    person = Person(make_engine(db), "102", language_code="en")
    await person.say("/lang")
    await person.say("Klingon")
    assert "choose one of the languages" in person.text
    assert "lang:vi" in person.choices


async def test_cancel_mid_flow_clears_state(db: Database) -> None:
    person = Person(make_engine(db), "103", language_code="en")
    await person.say("/lang")
    await person.say("/cancel")
    assert "Cancelled" in person.text
    async with db.sessions() as s:
        conv = await s.scalar(select(Conversation))
    assert conv is not None and conv.flow is None and conv.data == {}


async def test_idle_conversation_ends_with_note(db: Database) -> None:
    clock = Clock()
    person = Person(make_engine(db, clock, conversation_idle_minutes=30), "104", language_code="en")
    await person.say("/lang")
    clock.advance(minutes=31)
    await person.say("English")
    assert "ended after a long pause" in person.text
    async with db.sessions() as s:
        lang = await s.scalar(select(Identity.language).where(Identity.external_id == "104"))
    assert lang == "en"  # the late answer was not taken as a choice of language


async def test_unknown_command_gets_hint(db: Database) -> None:
    person = Person(make_engine(db), "105", language_code="en")
    await person.say("/frobnicate")
    assert "Unknown command" in person.text


async def _wait_for_lock_waiters(db: Database, n: int) -> None:
    """Until ``n`` sessions of this database wait on a lock (10 s at most)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with db.engine.connect() as conn:
            if await conn.scalar(query) >= n:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{n} sessions never waited on a lock")


async def test_one_persons_updates_run_in_order_others_concurrently(db: Database) -> None:
    engine = make_engine(db)
    alice = Person(engine, "200", language_code="vi")
    bob = Person(engine, "201", language_code="en")
    await alice.say("/start")
    await bob.say("/start")
    async with db.engine.connect() as holder:
        # Hold Alice's identity row, as a slow update of hers would.
        held = await holder.begin()
        await holder.execute(text("SELECT 1 FROM identity WHERE external_id = '200' FOR UPDATE"))
        ask = asyncio.create_task(alice.say("/lang"))
        await _wait_for_lock_waiters(db, 1)
        answer = asyncio.create_task(alice.press("lang:en"))
        await _wait_for_lock_waiters(db, 2)
        # Bob is not held up by Alice's updates.
        help_reply = await asyncio.wait_for(bob.say("/help"), timeout=10)
        assert any("/lang" in m.text for m in help_reply)
        assert not ask.done() and not answer.done()
        await held.rollback()
    asked, answered = await asyncio.wait_for(asyncio.gather(ask, answer), timeout=10)
    # In order: /lang asked which language, then the tap answered it. In the other
    # order the tap would be a stale button (ignored) and Alice would stay in Vietnamese.
    assert "lang:en" in [c.id for m in asked for c in m.choices]
    assert answered
    async with db.sessions() as s:
        language = await s.scalar(select(Identity.language).where(Identity.external_id == "200"))
        conversation = await s.scalar(
            select(Conversation)
            .join(Identity, Identity.id == Conversation.identity_id)
            .where(Identity.external_id == "200")
        )
    assert language == "en"
    assert conversation is not None and conversation.flow is None
