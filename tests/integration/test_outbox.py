"""The outbox sender on real PostgreSQL: outcomes, backoff, quiet hours, leases, order.

The messenger is ``ScriptedChannel``, a stand-in for a messenger that records what
it delivered and raises the delivery errors it is told to; the same paths against
the real Telegram client and the fake Bot API are in ``tests/e2e/test_outbox_telegram.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.base import PermanentError, RateLimited, RecipientBlocked, TransientError
from bot.config import Settings
from db.members import identity_for
from db.models import Identity, Outbox, OutboxStatus
from db.session import Database, UnitOfWork
from handlers.notify import enqueue
from handlers.quiet_hours import quiet_until
from handlers.types import Message
from scheduler.limits import Limiter, Rates
from scheduler.outbox import OutboxSender
from tests.support import Clock

# 2025-05-05 09:00 in Asia/Ho_Chi_Minh
MORNING = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)
HCM = dt.timezone(dt.timedelta(hours=7))


class Crash(BaseException):
    """The sender's process dies in the middle of a send."""


class ScriptedChannel:
    """A messenger that records deliveries and fails on cue (per chat, in order)."""

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.delivered: list[tuple[str, str]] = []
        self.calls = 0
        self._script: dict[str, list[BaseException]] = {}

    def fail(self, chat_id: str, *errors: BaseException) -> None:
        self._script.setdefault(chat_id, []).extend(errors)

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        self.calls += 1
        queue = self._script.get(chat_id)
        if queue:
            raise queue.pop(0)
        self.delivered.extend((chat_id, m.text) for m in messages)

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        await self.send(chat_id, [message])
        return replace or str(self.calls)

    def texts(self, chat_id: str) -> list[str]:
        return [text for chat, text in self.delivered if chat == chat_id]


class FakeTime:
    """Monotonic time for the token buckets; sleeping moves it on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_rate_per_second": 1000.0,
        "outbox_backoff_seconds": 30.0,
        "outbox_max_attempts": 3,
        "outbox_max_wait_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def make_sender(
    db: Database,
    channel: ScriptedChannel,
    clock: Clock,
    time: FakeTime | None = None,
    **overrides: Any,
) -> OutboxSender:
    conf = settings(**overrides)
    time = time or FakeTime()
    limiter = Limiter(
        Rates(conf.bot_rate_per_second, conf.chat_rate_per_second, conf.group_rate_per_minute),
        monotonic=time,
        sleep=time.sleep,
    )
    return OutboxSender(db, conf, {channel.name: channel}, clock=clock, limiter=limiter)


async def person(db: Database, user: str, *, channel: str = "test") -> Identity:
    async with UnitOfWork(db) as uow:
        identity = await identity_for(uow.session, channel, user, language="en")
        await uow.commit()
    return identity


async def queue(
    db: Database,
    identity: Identity,
    key: str,
    *texts: str,
    urgent: bool = False,
    not_before: dt.datetime | None = None,
) -> None:
    async with UnitOfWork(db) as uow:
        assert await enqueue(
            uow.session,
            identity,
            lambda: [Message(t) for t in texts or (key,)],
            dedup_key=key,
            urgent=urgent,
            not_before=not_before or MORNING,
        )
        await uow.commit()


async def row(db: Database, key: str) -> Outbox:
    async with db.sessions() as s:
        return (await s.execute(select(Outbox).where(Outbox.dedup_key == key))).scalar_one()


async def test_due_rows_are_sent_once_and_marked_sent(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)
    a, b = await person(db, "1"), await person(db, "2")
    await queue(db, a, "k1", "hello a")
    await queue(db, b, "k2", "first b", "second b")
    await queue(db, a, "later", not_before=MORNING + dt.timedelta(minutes=5))

    stats = await sender.drain_once()
    assert (stats.claimed, stats.sent) == (2, 2)
    assert channel.texts("1") == ["hello a"]
    assert channel.texts("2") == ["first b", "second b"]
    sent = await row(db, "k2")
    assert sent.status == OutboxStatus.SENT and sent.sent_at == MORNING and sent.attempts == 1

    assert (await sender.drain_once()).claimed == 0  # nothing twice; "later" not due yet
    clock.advance(minutes=5)
    await sender.drain_once()
    assert channel.texts("1") == ["hello a", "later"]


async def test_rows_of_one_chat_go_in_order_one_a_second(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    time = FakeTime()
    sender = make_sender(db, channel, clock, time)
    a = await person(db, "1")
    for i in range(4):
        await queue(db, a, f"k{i}", f"m{i}")
    start = time.now
    await sender.drain_once()
    assert channel.texts("1") == ["m0", "m1", "m2", "m3"]
    assert time.now - start == pytest.approx(3.0)  # 1 a second per chat, no burst


async def test_quiet_hours_hold_non_urgent_until_morning(db: Database) -> None:
    night = dt.datetime(2025, 5, 5, 22, 30, tzinfo=HCM)
    clock = Clock(night)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)
    a = await person(db, "1")
    await queue(db, a, "routine", not_before=night)
    await queue(db, a, "urgent", urgent=True, not_before=night)

    stats = await sender.drain_once()
    assert channel.texts("1") == ["urgent"]
    assert stats.held == 1
    held = await row(db, "routine")
    morning = dt.datetime(2025, 5, 6, 7, 0, tzinfo=HCM)
    assert held.status == OutboxStatus.PENDING and held.not_before == morning
    assert held.attempts == 0

    clock.now = morning - dt.timedelta(minutes=1)
    await sender.drain_once()
    assert channel.texts("1") == ["urgent"]
    clock.now = morning
    await sender.drain_once()
    assert channel.texts("1") == ["urgent", "routine"]


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (dt.datetime(2025, 5, 5, 20, 59, tzinfo=HCM), None),
        (dt.datetime(2025, 5, 5, 21, 0, tzinfo=HCM), dt.datetime(2025, 5, 6, 7, 0, tzinfo=HCM)),
        (dt.datetime(2025, 5, 6, 3, 0, tzinfo=HCM), dt.datetime(2025, 5, 6, 7, 0, tzinfo=HCM)),
        (dt.datetime(2025, 5, 6, 7, 0, tzinfo=HCM), None),
    ],
)
def test_quiet_hours_boundaries(local: dt.datetime, expected: dt.datetime | None) -> None:
    assert quiet_until(local.astimezone(dt.UTC), Settings()) == expected


def test_quiet_hours_within_one_day_and_switched_off() -> None:
    lunch = Settings(quiet_start=dt.time(12, 0), quiet_end=dt.time(13, 30))
    noon = dt.datetime(2025, 5, 5, 12, 15, tzinfo=HCM)
    assert quiet_until(noon, lunch) == dt.datetime(2025, 5, 5, 13, 30, tzinfo=HCM)
    assert quiet_until(noon.replace(hour=14), lunch) is None
    never = Settings(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
    assert quiet_until(noon.replace(hour=23), never) is None


async def test_blocked_recipient_stops_retrying_and_marks_identity(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)
    a = await person(db, "1")
    await queue(db, a, "k1")
    await queue(db, a, "k2")
    channel.fail("1", RecipientBlocked("Forbidden: bot was blocked by the user"))

    stats = await sender.drain_once()
    assert stats.blocked == 2 and channel.calls == 1  # the second row is not even tried
    first = await row(db, "k1")
    assert first.status == OutboxStatus.BLOCKED and "blocked" in (first.last_error or "")
    assert (await row(db, "k2")).status == OutboxStatus.BLOCKED
    async with db.sessions() as s:
        blocked_at = await s.scalar(select(Identity.blocked_at).where(Identity.id == a.id))
    assert blocked_at == MORNING.replace(hour=0, minute=0)  # only the day (see db.sealed)

    await queue(db, a, "k3")  # queued later (enqueue does not look at blocked_at)
    clock.advance(hours=1)
    await sender.drain_once()
    assert (await row(db, "k3")).status == OutboxStatus.BLOCKED
    assert channel.calls == 1 and channel.delivered == []


async def test_transient_errors_back_off_then_fail_with_error_kept(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)  # 3 attempts, 30 s doubling
    a = await person(db, "1")
    await queue(db, a, "k1")
    channel.fail("1", *(TransientError(f"502 Bad Gateway #{i}") for i in range(3)))

    await sender.drain_once()
    r = await row(db, "k1")
    assert (r.status, r.attempts) == (OutboxStatus.PENDING, 1)
    assert r.not_before == MORNING + dt.timedelta(seconds=30)
    assert r.last_error == "TransientError: 502 Bad Gateway #0"

    clock.advance(seconds=29)
    assert (await sender.drain_once()).claimed == 0
    clock.advance(seconds=1)
    await sender.drain_once()
    r = await row(db, "k1")
    assert r.attempts == 2 and r.not_before == clock.now + dt.timedelta(seconds=60)

    clock.advance(seconds=60)
    await sender.drain_once()
    r = await row(db, "k1")
    assert (r.status, r.attempts) == (OutboxStatus.FAILED, 3)
    assert r.last_error == "TransientError: 502 Bad Gateway #2"
    clock.advance(hours=2)
    assert (await sender.drain_once()).claimed == 0
    assert channel.delivered == []


async def test_retry_resumes_after_the_messages_already_delivered(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)
    a = await person(db, "1")
    await queue(db, a, "digest", "part 1", "part 2", "part 3")

    original = channel.send
    sends = 0

    async def send(chat_id: str, messages: list[Message]) -> None:
        nonlocal sends
        sends += 1
        if sends == 2:
            raise TransientError("500 Internal Server Error")
        await original(chat_id, messages)

    channel.send = send  # type: ignore[method-assign]
    await sender.drain_once()
    assert channel.texts("1") == ["part 1"]
    clock.advance(seconds=30)
    await sender.drain_once()
    assert channel.texts("1") == ["part 1", "part 2", "part 3"]
    assert (await row(db, "digest")).status == OutboxStatus.SENT


async def test_permanent_error_fails_at_once(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)
    a = await person(db, "1")
    await queue(db, a, "k1")
    await queue(db, a, "k2")
    channel.fail("1", PermanentError("Bad Request: can't parse entities"))
    stats = await sender.drain_once()
    r = await row(db, "k1")
    assert (r.status, r.attempts) == (OutboxStatus.FAILED, 1)
    assert "can't parse entities" in (r.last_error or "")
    assert stats.sent == 1 and channel.texts("1") == ["k2"]  # the next row still goes


async def test_429_pauses_the_bot_without_counting_an_attempt(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    time = FakeTime()
    sender = make_sender(db, channel, clock, time)
    a, b = await person(db, "1"), await person(db, "2")
    await queue(db, a, "k1")
    channel.fail("1", RateLimited(30, "Too Many Requests: retry after 30"))

    await sender.drain_once()
    r = await row(db, "k1")
    assert (r.status, r.attempts) == (OutboxStatus.PENDING, 0)
    assert r.not_before == MORNING + dt.timedelta(seconds=30)
    assert sender.limiter.paused_for("test") == pytest.approx(30)

    await queue(db, b, "k2")  # another chat, same bot: waits for the pause too
    await sender.drain_once()
    assert channel.delivered == []
    assert (await row(db, "k2")).attempts == 0

    clock.advance(seconds=30)
    time.now += 30
    await sender.drain_once()
    assert sorted(channel.delivered) == [("1", "k1"), ("2", "k2")]


async def test_every_outcome_ends_the_request_in_the_bots_window(db: Database) -> None:
    """Sent, refused, 429, timed out or failed: none stays counted as in flight."""
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock)
    chats = {
        "1": None,
        "2": TransientError("Timed out"),
        "3": TimeoutError(),
        "4": PermanentError("Bad Request: chat not found"),
        "5": RecipientBlocked("Forbidden: bot was blocked by the user"),
        "6": RateLimited(5, "Too Many Requests: retry after 5"),
    }
    for chat, error in chats.items():
        await queue(db, await person(db, chat), f"k{chat}")
        if error is not None:
            channel.fail(chat, error)
    await sender.drain_once()
    assert channel.calls == 6  # the 429 came last: every chat's message was tried
    assert channel.delivered == [("1", "k1")]
    assert sender.limiter.in_flight("test") == 0


async def test_rows_of_a_crashed_sender_come_back_after_the_lease(db: Database) -> None:
    clock = Clock(MORNING)
    dying = ScriptedChannel()
    dying.fail("1", Crash())
    a = await person(db, "1")
    await queue(db, a, "k1")
    with pytest.raises(Crash):
        await make_sender(db, dying, clock, outbox_lease_seconds=120).drain_once()

    channel = ScriptedChannel()
    survivor = make_sender(db, channel, clock, outbox_lease_seconds=120)
    clock.advance(seconds=119)
    assert (await survivor.drain_once()).claimed == 0  # still leased to the dead sender
    clock.advance(seconds=1)
    await survivor.drain_once()
    assert channel.texts("1") == ["k1"]
    assert (await row(db, "k1")).attempts == 2


async def test_a_crash_inside_a_row_repeats_no_message_already_sent(db: Database) -> None:
    clock = Clock(MORNING)
    dying = ScriptedChannel()
    a = await person(db, "1")
    await queue(db, a, "digest", "chart", "text", "footer")
    original = dying.send
    sends = 0

    async def send(chat_id: str, messages: list[Message]) -> None:
        nonlocal sends
        sends += 1
        if sends == 3:
            raise Crash()  # the process dies while "footer" is in flight
        await original(chat_id, messages)

    dying.send = send  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await make_sender(db, dying, clock, outbox_lease_seconds=120).drain_once()
    assert dying.texts("1") == ["chart", "text"]
    assert (await row(db, "digest")).payload["delivered"] == 2

    channel = ScriptedChannel()
    clock.advance(seconds=120)
    await make_sender(db, channel, clock, outbox_lease_seconds=120).drain_once()
    assert channel.texts("1") == ["footer"]
    assert (await row(db, "digest")).status == OutboxStatus.SENT


async def test_rows_for_other_channels_are_left_alone(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel("test")
    sender = make_sender(db, channel, clock)
    zalo = await person(db, "z1", channel="zalo")
    await queue(db, zalo, "kz")
    assert (await sender.drain_once()).claimed == 0
    r = await row(db, "kz")
    assert (r.status, r.attempts) == (OutboxStatus.PENDING, 0)
