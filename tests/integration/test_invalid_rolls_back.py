"""``Invalid`` after writes: the whole update's transaction goes, nothing half-written stays.

The engine runs a step without a savepoint; a step that raises ``Invalid`` has its
transaction rolled back whole and a new one records the update id and asks again.
These tests register a flow of their own whose step writes in every way a step can
(a row added through the ORM and flushed, a row inserted by a Core statement, a
change to the identity, a move of the conversation) and then refuses the input.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select

from bot.config import Settings
from db.models import Audit, Conversation, Identity, ProcessedUpdate
from db.session import Database
from handlers.engine import Engine
from handlers.flow import Context, Flow, Invalid, StepDef, registry
from handlers.types import Incoming, Message, Reply
from tests.support import Clock, Person

FLOW = "test_writes_then_refuses"


async def ask(ctx: Context) -> Reply:
    return [Message(f"Question at {ctx.step}")]


async def write_everything_then_judge(ctx: Context, inp: Incoming) -> Reply:
    ctx.session.add(Audit(action="orm_row", data={"text": inp.text}))
    await ctx.session.flush()  # the row is in the database, inside the transaction
    await ctx.session.execute(insert(Audit).values(action="core_row", data={}))
    ctx.identity.language = "en"
    ctx.goto(FLOW, "second", note=inp.text)
    if inp.text != "good":
        raise Invalid("Not good: say good.")
    return [Message("Thanks")]


@pytest.fixture
def refusing_flow() -> Iterator[None]:
    steps = {
        "first": StepDef(prompt=ask, handle=write_everything_then_judge),
        "second": StepDef(prompt=ask, handle=write_everything_then_judge),
    }
    registry.add_flow(Flow(FLOW, steps))
    try:
        yield
    finally:
        registry.flows.pop(FLOW, None)


async def _enter_flow(db: Database, person: Person) -> None:
    await person.say("/start")  # creates the identity and the conversation
    async with db.sessions() as s, s.begin():
        conversation = await s.scalar(
            select(Conversation)
            .join(Identity, Identity.id == Conversation.identity_id)
            .where(Identity.external_id == person.user_id)
        )
        assert conversation is not None
        conversation.flow, conversation.step, conversation.data = FLOW, "first", {"kept": 1}


async def _state(db: Database, user_id: str) -> tuple[object, ...]:
    async with db.sessions() as s:
        row = (
            await s.execute(
                select(Conversation.flow, Conversation.step, Conversation.data, Identity.language)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.external_id == user_id)
            )
        ).one()
        audits = await s.scalar(select(func.count()).select_from(Audit))
    return (*row, audits)


async def test_a_step_that_writes_then_refuses_leaves_nothing_written(
    db: Database, refusing_flow: None
) -> None:
    engine = Engine(db, Settings(), clock=Clock())  # type: ignore[call-arg]
    person = Person(engine, "300", language_code="vi")
    await _enter_flow(db, person)

    reply = await person.say("bad")

    # The hint, then the same question (asked from the step it was at, not "second").
    assert [m.text for m in reply] == ["Not good: say good.", "Question at first"]
    # Nothing the step wrote stayed: no audit row of either kind, the identity's
    # language and the conversation's state are as they were before the update.
    assert await _state(db, "300") == (FLOW, "first", {"kept": 1}, "vi", 0)


async def test_a_refused_update_is_recorded_once(db: Database, refusing_flow: None) -> None:
    engine = Engine(db, Settings(), clock=Clock())  # type: ignore[call-arg]
    person = Person(engine, "301", language_code="vi")
    await _enter_flow(db, person)
    async with db.sessions() as s:
        before = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
    inp = Incoming(channel="test", user_id="301", chat_id="301", update_id="bad-1", text="bad")

    first = await engine.handle(inp)
    again = await engine.handle(inp)  # the same update redelivered

    assert [m.text for m in first] == ["Not good: say good.", "Question at first"]
    assert again == []  # handled once: the refusal's transaction recorded its id
    async with db.sessions() as s:
        recorded = await s.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == "bad-1")
        )
        after = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert recorded == 1 and after == before + 1
    assert await _state(db, "301") == (FLOW, "first", {"kept": 1}, "vi", 0)


async def test_good_input_after_a_refusal_writes_everything(
    db: Database, refusing_flow: None
) -> None:
    engine = Engine(db, Settings(), clock=Clock())  # type: ignore[call-arg]
    person = Person(engine, "302", language_code="vi")
    await _enter_flow(db, person)
    await person.say("bad")

    reply = await person.say("good")

    assert [m.text for m in reply] == ["Thanks"]
    # Both rows, the language and the move: one update's writes, all of them.
    assert await _state(db, "302") == (FLOW, "second", {"kept": 1, "note": "good"}, "en", 2)
