"""The outbox sender: claims due rows, sends them through their channel, records the outcome.

Any number of processes may run a sender over one database; for each channel
one of them sends at a time, the one holding the advisory lock ``outbox:<channel>``
(:mod:`scheduler.leader`), so the rate limits of :mod:`scheduler.limits` are one
set for all of them. The others stand by and try the lock every
``outbox_standby_seconds``; PostgreSQL drops the lock with its holder's connection
(a crash, kill -9, a cut network), so a standby takes over within that time. On
taking over, a sender gives back at once the rows the previous one had claimed
(``leased_by``), reads when each chat last got a message in the past minute (so
group and chat spacing hold across the handover), and waits one second (for the
per-second limits) before it sends. Then:

1. **Claim**, in one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED LIMIT n``
   of pending rows whose ``not_before`` has come, personal rows before announcements,
   urgent ones first; each claimed row gets ``attempts + 1``, ``not_before = now +
   lease`` and ``leased_by``. Two senders never claim the same row; the rows of a
   sender that dies come back when another takes over, or after the lease. A claim
   is about ``CLAIM_SECONDS`` of sending at the bot's rate; the running sender
   claims again while a claim goes out, once less than half of it waits for its
   turn, so sending never pauses for a claim and an urgent row queued during a
   large announcement is claimed, and goes, within about a second.
2. **Send** outside any transaction, one message at a time under the limits of
   :mod:`scheduler.limits`; rows to one chat go in order. At most
   ``outbox_in_flight`` messages are between their request and the write of its
   outcome at any moment, so a sender killed with -9 repeats at most that many.
3. **Record**, in batches (:mod:`scheduler.outcomes`: one statement for the
   outcomes of the messages in flight), each guarded by the claimed ``attempts``
   (a fencing token: a sender whose lease ran out cannot overwrite the row's next
   claim):

   ============================  ===================================================
   outcome                       row becomes
   ============================  ===================================================
   delivered                     ``sent`` (``sent_at``)
   ``RecipientBlocked``          ``blocked``; the identity gets ``blocked_at`` and
                                 loses its announcement subscriptions
   ``RateLimited`` (429)         pending after ``retry_after``, the bot paused, the
                                 attempt not counted
   ``TransientError`` (5xx, …)   pending after an exponential backoff; ``failed``
                                 once ``outbox_max_attempts`` is reached
   ``PermanentError``            ``failed`` at once
   ============================  ===================================================

   ``last_error`` keeps the latest error. The payload remembers how many of its
   messages went out (``delivered``, saved after each message of a row of several),
   so a retry or a new sender after a crash does not repeat them.

Quiet hours (``quiet_start``–``quiet_end``, local time): non-urgent rows that fall
due are moved to the end of the quiet hours; urgent rows still go.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import math
import os
import socket
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.channels.base import (
    Channel,
    PermanentError,
    RateLimited,
    RecipientBlocked,
    TransientError,
)
from bot.config import Settings
from bot.health import Backoff, Health, describe, wait_or_stop
from db.models import Broadcast, Identity, Outbox, OutboxStatus, utcnow
from db.outage import is_outage
from db.sealed import coarse, payload_messages
from db.session import Database
from db.subscriptions import unsubscribe
from handlers.i18n import set_language
from handlers.quiet_hours import quiet_until
from handlers.types import message_from_json
from scheduler.cancel_watch import CancelWatch
from scheduler.leader import AdvisoryLock
from scheduler.limits import BOT_GUARD, Limiter, Rates, Sending
from scheduler.outcomes import Outcome, OutcomeWriter, Slots

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
ERROR_LIMIT = 1000  # characters of an error kept in last_error
# Chat and group limits are kept with a little room: the messenger measures arrival
# times, which jitter by a few milliseconds against our send times. (The bot's limit
# keeps its own, see scheduler.limits.)
CHAT_MARGIN = 0.95
# Seconds a new sender waits: the bot window of a dead sender's last sends ages out.
TAKEOVER_PAUSE = 1.0 + BOT_GUARD + 0.05
CLAIM_SECONDS = 0.25  # a claim holds about this long of sending (urgent rows wait for it)
LOCK_CHECK_SECONDS = 2.0  # while claiming again, how often the locks are checked
RECENT = dt.timedelta(seconds=60)  # sends read back on taking over (the group window)


# --- the sender ------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A row this sender holds until its lease ends."""

    id: int
    identity_id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int
    blocked: bool
    language: str | None = None  # the recipient's: for what a channel adds when it renders


@dataclass(frozen=True)
class _Outcome:
    """What a row's fate means for the chat's later rows in the batch."""

    kind: str  # "next": go on; "held": wait ``delay`` too; "blocked": block them too;
    # "stop": leave them as they are (claimed): outcomes can no longer be recorded
    delay: float = 0.0

    @classmethod
    def held(cls, delay: float) -> _Outcome:
        return cls("held", delay)


@dataclass
class DrainStats:
    claimed: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    postponed: int = 0
    held: int = 0
    cancelled: int = 0
    caught_up: bool = True  # the last claim found fewer rows than it asked for


class OutboxSender:
    """Drains the outbox through ``channels`` (keyed by ``identity.channel``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = utcnow,
        limiter: Limiter | None = None,
        health: Health | None = None,
    ) -> None:
        self.db = db
        self.health = health or Health()
        self.settings = settings
        self.channels = dict(channels)
        self.clock = clock
        self._announcements: dict[int, dict[str, Any]] = {}
        self.cancels = CancelWatch(db)  # announcements cancelled while they go out
        self._announcements_lock = asyncio.Lock()
        self.limiter = limiter or Limiter(
            Rates(
                bot_per_second=settings.bot_rate_per_second,
                chat_per_second=settings.chat_rate_per_second * CHAT_MARGIN,
                group_per_minute=settings.group_rate_per_minute * CHAT_MARGIN,
            )
        )
        self.token = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._locks = {name: AdvisoryLock(db, f"outbox:{name}") for name in self.channels}
        # Messages sent and not yet recorded, at most: a crash repeats at most these.
        self._slots = Slots(settings.outbox_in_flight)
        self._halted: Exception | None = None  # why this batch stopped sending
        self._outcomes = OutcomeWriter(db)
        # A claim holds about CLAIM_SECONDS of sending at the bot's rate, so an urgent
        # row queued during an announcement waits for little more than that.
        self.claim_size = max(
            1,
            min(
                settings.outbox_batch_size,
                math.ceil(settings.bot_rate_per_second * CLAIM_SECONDS),
            ),
        )

    # -- the loop ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; sleeps ``outbox_poll_seconds`` when idle.

        Any error (a database outage, a bug) is logged, reported to ``health`` as
        ``outbox`` being down, and retried after a backoff (at most
        ``outbox_retry_max_seconds``); the loop only ends when ``stop`` is set.
        """
        log.info("outbox sender started for %s", ", ".join(sorted(self.channels)) or "nothing")
        backoff = Backoff(cap=self.settings.outbox_retry_max_seconds)
        try:
            await self._loop(stop, backoff)
        finally:
            for lock in self._locks.values():
                await lock.release()

    async def _loop(self, stop: asyncio.Event, backoff: Backoff) -> None:
        while not stop.is_set():
            try:
                leading = await self.lead(stop)
                stats = (
                    await self.drain_once(leading, refill=True, stop=stop)
                    if leading
                    else DrainStats()
                )
            except Exception as exc:
                delay = backoff.next()
                self.health.down("outbox", describe(exc))
                log.error(
                    "outbox sender: %s; again in %.1f s",
                    describe(exc),
                    delay,
                    exc_info=not is_outage(exc),  # a bug's traceback; an outage in one line
                )
                await wait_or_stop(stop, delay)
                continue
            backoff.reset()
            self.health.up("outbox")
            if not leading:
                await wait_or_stop(stop, self.settings.outbox_standby_seconds)
            elif stats.caught_up:
                await wait_or_stop(stop, self.settings.outbox_poll_seconds)

    # -- leading ------------------------------------------------------------------

    async def lead(self, stop: asyncio.Event | None = None) -> set[str]:
        """The channels this sender sends for now (their locks taken or kept)."""
        for name, lock in self._locks.items():
            was = lock.held
            if await lock.acquire():
                if not was:
                    try:
                        await self._take_over(name, stop)
                    except BaseException:
                        await lock.release()
                        raise
            elif was:
                log.warning("outbox sender: no longer the sender for %s", name)
        return {name for name, lock in self._locks.items() if lock.held}

    async def _still_leading(self, channels: Collection[str]) -> bool:
        """Whether the locks of ``channels`` held when sending began are still held."""
        held = [self._locks[name] for name in channels if self._locks[name].held]
        return all([await lock.acquire() for lock in held])

    async def _take_over(self, channel: str, stop: asyncio.Event | None) -> None:
        """Become the sender of ``channel``: the previous one's rows back, its pace known."""
        now = self.clock()
        of_channel = select(Identity.id).where(Identity.channel == channel)
        async with self.db.sessions.begin() as session:
            released = (
                await session.execute(
                    update(Outbox)
                    .where(
                        Outbox.status == OutboxStatus.PENDING.value,
                        Outbox.leased_by.is_not(None),
                        Outbox.identity_id.in_(of_channel),
                    )
                    .values(not_before=now, leased_by=None)
                    .returning(Outbox.identity_id)
                )
            ).all()
            # a message to these chats may have gone out unrecorded just now
            unsure = (
                await session.execute(
                    select(Identity.chat_id).where(Identity.id.in_({r[0] for r in released}))
                )
            ).scalars()
            for chat_id in unsure:
                self.limiter.sent_before(channel, chat_id, 0.0)
            recent = (
                await session.execute(
                    select(Identity.chat_id, func.max(Outbox.sent_at))
                    .join(Outbox, Outbox.identity_id == Identity.id)
                    .where(Identity.channel == channel, Outbox.sent_at > now - RECENT)
                    .group_by(Identity.chat_id)
                )
            ).all()
        for chat_id, sent_at in recent:
            if sent_at is not None:
                self.limiter.sent_before(channel, chat_id, (now - sent_at).total_seconds())
        log.info(
            "outbox sender %s: now sending for %s (%d claimed row(s) taken back)",
            self.token,
            channel,
            len(released),
        )
        if stop is not None:
            await wait_or_stop(stop, TAKEOVER_PAUSE)

    async def drain_once(
        self,
        channels: Collection[str] | None = None,
        *,
        refill: bool = False,
        stop: asyncio.Event | None = None,
    ) -> DrainStats:
        """Claim one batch of due rows of ``channels`` (default: all) and send them.

        With ``refill`` (the running sender), claim again whenever fewer than half a
        claim of chats wait, until no more are due, ``stop`` is set, quiet hours
        begin or end, or a lock is lost (checked every ``LOCK_CHECK_SECONDS``). A
        chat's rows from a later claim go after its earlier ones.
        """
        stats = DrainStats()
        channels = sorted(self.channels if channels is None else channels)
        if not channels:
            return stats
        now = self.clock()
        quiet_end = quiet_until(now, self.settings)
        if quiet_end is not None:
            stats.held = await self._hold_for_quiet_hours(now, quiet_end)
        self._halted = None
        chats: dict[tuple[str, str], asyncio.Task[None]] = {}  # each chat's latest, unfinished
        errors: list[BaseException] = []
        room = asyncio.Event()

        def chat_done(task: asyncio.Task[None], key: tuple[str, str]) -> None:
            if chats.get(key) is task:
                del chats[key]  # a drain may go on for a whole announcement: keep only the live
            if not task.cancelled() and task.exception() is not None:
                errors.append(task.exception())  # type: ignore[arg-type]
            if len(chats) < max(1, self.claim_size // 2):
                room.set()

        loop = asyncio.get_running_loop()
        check_locks_at = loop.time() + LOCK_CHECK_SECONDS
        failed: Exception | None = None  # a claim after the first: raised once the rest went
        try:
            while True:
                try:
                    rows = await self._claim(now, channels, urgent_only=quiet_end is not None)
                except Exception as exc:
                    if not chats:
                        raise
                    failed = exc
                    break
                stats.claimed += len(rows)
                stats.caught_up = len(rows) < self.claim_size
                by_chat: dict[tuple[str, str], list[Claimed]] = {}
                for row in rows:
                    by_chat.setdefault((row.channel, row.chat_id), []).append(row)
                for key, chat_rows in by_chat.items():
                    task = asyncio.create_task(self._send_chat(chat_rows, stats, chats.get(key)))
                    chats[key] = task
                    task.add_done_callback(functools.partial(chat_done, key=key))
                room.clear()
                if len(chats) < max(1, self.claim_size // 2):
                    room.set()
                if not refill or stats.caught_up:
                    break
                await room.wait()
                if self._halted is not None or (stop is not None and stop.is_set()):
                    break
                now = self.clock()
                if (quiet_until(now, self.settings) is None) != (quiet_end is None):
                    break
                if loop.time() > check_locks_at:
                    check_locks_at = loop.time() + LOCK_CHECK_SECONDS
                    if not await self._still_leading(channels):
                        break
            while chats:  # every chat finished first, then the first error is raised
                await asyncio.wait(list(chats.values()))
        except asyncio.CancelledError:
            for task in list(chats.values()):
                task.cancel()
            raise
        if errors:
            raise errors[0]
        if self._halted is not None:
            raise self._halted
        if failed is not None:
            raise failed
        return stats

    # -- claiming -----------------------------------------------------------------

    async def _hold_for_quiet_hours(self, now: dt.datetime, until: dt.datetime) -> int:
        due = (
            select(Outbox.id)
            .where(
                Outbox.status == OutboxStatus.PENDING.value,
                Outbox.urgent.is_(False),
                Outbox.not_before <= now,
            )
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        stmt = (
            update(Outbox)
            .where(Outbox.id.in_(select(due.c.id)))
            .values(not_before=until)
            .returning(Outbox.id)
        )
        async with self.db.sessions.begin() as session:
            return len((await session.execute(stmt)).all())

    async def _claim(
        self, now: dt.datetime, channels: list[str], *, urgent_only: bool
    ) -> list[Claimed]:
        lease = dt.timedelta(seconds=self.settings.outbox_lease_seconds)
        due = (
            select(Outbox.id)
            .join(Identity, Identity.id == Outbox.identity_id)
            .where(
                Outbox.status == OutboxStatus.PENDING.value,
                Outbox.not_before <= now,
                Identity.channel.in_(channels),
            )
            # Personal rows before announcements (which may be 100,000 rows), then urgent first.
            .order_by(
                Outbox.broadcast_id.isnot(None), Outbox.urgent.desc(), Outbox.not_before, Outbox.id
            )
            .limit(self.claim_size)
            .with_for_update(of=Outbox, skip_locked=True)
        )
        if urgent_only:
            due = due.where(Outbox.urgent.is_(True))
        due_cte = due.cte("due")
        claim = (
            update(Outbox)
            .where(Outbox.id.in_(select(due_cte.c.id)), Identity.id == Outbox.identity_id)
            .values(not_before=now + lease, attempts=Outbox.attempts + 1, leased_by=self.token)
            .returning(
                Outbox.id,
                Outbox.identity_id,
                Outbox.payload,
                Outbox.attempts,
                Identity.channel,
                Identity.chat_id,
                Identity.blocked_at,
                Identity.language,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.db.sessions.begin() as session:
            claimed = (await session.execute(claim)).all()
        rows = [
            Claimed(
                id=r.id,
                identity_id=r.identity_id,
                channel=r.channel,
                chat_id=r.chat_id,
                payload=r.payload,
                attempts=r.attempts,
                blocked=r.blocked_at is not None,
                language=r.language,
            )
            for r in claimed
        ]
        return sorted(rows, key=lambda r: r.id)

    # -- sending ------------------------------------------------------------------

    async def _send_chat(
        self, rows: list[Claimed], stats: DrainStats, after: asyncio.Task[None] | None = None
    ) -> None:
        """One chat's rows, in order, ``after`` its earlier ones; a row that must wait
        holds back the rest with it."""
        if after is not None:
            await after  # a BaseException (the process ending) ends this chat too
        # A task of its own: the language set here is this chat's alone.
        set_language(rows[0].language)
        for index, row in enumerate(rows):
            try:
                outcome = await self._send_row(row, stats)
            except Exception as exc:  # the row comes back when its lease ends
                log.error("outbox row %s: not recorded: %s", row.id, describe(exc))
                outcome = _Outcome.held(self.settings.outbox_backoff_seconds)
            if outcome.kind == "next":
                continue
            if self._halted is not None:
                return  # the rest stays claimed, unsent, until a takeover or the lease's end
            for later in rows[index + 1 :]:
                if outcome.kind == "blocked":
                    await self._finish(later, OutboxStatus.BLOCKED, "recipient blocked the bot")
                    stats.blocked += 1
                else:
                    await self._postpone(later, outcome.delay, stats, count_attempt=False)
            return

    async def _send_row(self, row: Claimed, stats: DrainStats) -> _Outcome:
        """Send one row and record what happened."""
        if row.blocked:
            await self._finish(row, OutboxStatus.BLOCKED, "recipient blocked the bot earlier")
            stats.blocked += 1
            return _Outcome("blocked")
        channel = self.channels[row.channel]
        if "broadcast" in row.payload and "messages" not in row.payload:
            # an announcement's row: its messages live on the broadcast
            messages = await self._announcement(row)
        else:
            messages = payload_messages(self.settings, row.payload)
        start = int(row.payload.get("delivered", 0))
        for index in range(start, len(messages)):
            if await self._cancelled(row, index, stats):
                return _Outcome("next")
            wait = self.limiter.chat_wait(row.channel, row.chat_id)
            if wait > self.settings.outbox_max_wait_seconds:
                await self._postpone(row, wait, stats, count_attempt=False, delivered=index)
                return _Outcome.held(wait)
            if wait > 0:  # the chat's own spacing, waited without holding a slot
                await self.limiter.sleep(wait)
            # from the bot's token to the outcome written; personal messages first
            async with self._slots.hold(first="broadcast" not in row.payload):
                sending = await self.limiter.acquire(row.channel, row.chat_id)
                try:
                    if self._halted is not None:  # no outcome can be written: send nothing more
                        return _Outcome("stop")
                    if await self._cancelled(row, index, stats):  # cancelled while it waited
                        return _Outcome("next")
                    outcome = await self._send_one(row, channel, messages, index, stats, sending)
                finally:
                    sending.done()  # the bot's window counts it until its request ended
            if outcome is not None:
                return outcome
        await self._finish(row, OutboxStatus.SENT, None, delivered=len(messages))
        stats.sent += 1
        return _Outcome("next")

    async def _cancelled(self, row: Claimed, index: int, stats: DrainStats) -> bool:
        """An announcement's row whose announcement was cancelled: recorded so, not sent."""
        if "broadcast" not in row.payload:
            return False
        if not await self.cancels.cancelled(int(row.payload["broadcast"])):
            return False
        await self._finish(row, OutboxStatus.CANCELLED, "cancelled", delivered=index)
        stats.cancelled += 1
        return True

    async def _announcement(self, row: Claimed) -> list[dict[str, Any]]:
        """The messages of an announcement for this recipient: member or citizen, language."""
        broadcast_id = int(row.payload["broadcast"])
        async with self._announcements_lock:  # one look-up, not one per concurrent chat
            rendered = self._announcements.get(broadcast_id)
            if rendered is None:
                async with self.db.sessions() as session:
                    rendered = await session.scalar(
                        select(Broadcast.messages).where(Broadcast.id == broadcast_id)
                    )
                if len(self._announcements) > 16:
                    self._announcements.clear()
                rendered = self._announcements[broadcast_id] = rendered or {}
        variants = rendered.get(row.payload.get("as", "citizen"), {})
        found: list[dict[str, Any]] = variants.get(row.language or "vi") or variants.get("vi", [])
        return found

    async def _send_one(
        self,
        row: Claimed,
        channel: Channel,
        messages: list[dict[str, Any]],
        index: int,
        stats: DrainStats,
        sending: Sending,
    ) -> _Outcome | None:
        """Message ``index`` of ``row`` out and recorded; None to go on with the next."""
        # Spacing counts from now, not from the token's time: a send that was held up
        # (a busy event loop) must not bring the next one closer to it.
        self.limiter.sent_before(row.channel, row.chat_id, 0.0)
        try:
            try:
                await channel.send(row.chat_id, [message_from_json(messages[index])])
            finally:
                sending.done()  # answered, refused or timed out: no longer on its way
        except RecipientBlocked as exc:
            await self._blocked(row, exc, delivered=index)
            stats.blocked += 1
            return _Outcome("blocked")
        except RateLimited as exc:
            log.warning("%s: 429, pausing %.1f s", row.channel, exc.retry_after)
            self.limiter.pause(row.channel, exc.retry_after)
            await self._postpone(
                row, exc.retry_after, stats, count_attempt=False, delivered=index, error=exc
            )
            return _Outcome.held(exc.retry_after)
        except PermanentError as exc:
            await self._finish(row, OutboxStatus.FAILED, _describe(exc), delivered=index)
            stats.failed += 1
            return _Outcome("next")
        except Exception as exc:
            if not isinstance(exc, TransientError):  # a bug must not stop the sender
                log.exception("outbox row %s: unexpected error from %s", row.id, row.channel)
            delay = await self._retry_or_fail(row, exc, stats, delivered=index)
            return _Outcome("next") if delay is None else _Outcome.held(delay)
        if index + 1 == len(messages):
            await self._finish(row, OutboxStatus.SENT, None, delivered=len(messages))
            stats.sent += 1
            return _Outcome("next")
        if not await self._save_progress(row, index + 1):
            return _Outcome("next")  # the row is no longer ours: its new holder goes on
        return None

    # -- recording ------------------------------------------------------------------

    def _mine(self, row: Claimed) -> Any:
        """The row, only while it is still this sender's claim."""
        return (
            update(Outbox)
            .where(
                Outbox.id == row.id,
                Outbox.attempts == row.attempts,
                Outbox.status == OutboxStatus.PENDING.value,
            )
            .returning(Outbox.id)
        )

    async def _record(self, outcome: Outcome) -> bool:
        """Write an outcome (or progress) of a claimed row, with the next batch.

        The caller holds the message's in-flight slot until this returns.
        """
        try:
            done = await self._outcomes.write(outcome)
        except Exception as exc:
            # The messages in flight went out unrecorded (they will go again); stop
            # sending, so that nothing more joins them.
            self._halted = self._halted or exc
            raise
        if not done:
            log.warning("outbox row %s: lease lost before the outcome was recorded", outcome.id)
        return done

    async def _save_progress(self, row: Claimed, delivered: int) -> bool:
        """Record that the first ``delivered`` messages went out, before the next one.

        A sender that dies in the middle of a row of several messages then repeats
        at most the message that was in flight.
        """
        payload = self._progress(row, delivered)
        return await self._record(Outcome(row.id, row.attempts, keep_lease=True, payload=payload))

    def _progress(self, row: Claimed, delivered: int | None) -> dict[str, Any] | None:
        """The payload that says ``delivered`` messages went out (None: no change)."""
        if delivered is None or delivered == int(row.payload.get("delivered", 0)):
            return None
        return {**row.payload, "delivered": delivered}

    async def _finish(
        self,
        row: Claimed,
        status: OutboxStatus,
        error: str | None,
        *,
        delivered: int | None = None,
    ) -> None:
        if "sealed" in row.payload:  # to a reporter: gone once done (see handlers.notify)
            await self._record(Outcome(row.id, row.attempts, forget=True))
            if status is not OutboxStatus.SENT:
                log.warning("outbox row %s: %s, deleted (%s)", row.id, status.value, error)
            return
        sent = status is OutboxStatus.SENT
        await self._record(
            Outcome(
                row.id,
                row.attempts,
                status=status.value,
                sent_at=self.clock() if sent else None,
                # a row that went out is never resumed: its count is not needed
                payload=None if sent else self._progress(row, delivered),
                last_error=None if error is None else error[:ERROR_LIMIT],
            )
        )

    async def _blocked(self, row: Claimed, exc: Exception, *, delivered: int) -> None:
        # Only the day: the moment would line up with the message's (and its tip's) time.
        day = coarse(self.clock())
        async with self.db.sessions.begin() as session:
            if "sealed" in row.payload:
                await session.execute(
                    delete(Outbox).where(Outbox.id == row.id, Outbox.attempts == row.attempts)
                )
            else:
                values: dict[str, Any] = {
                    "status": OutboxStatus.BLOCKED.value,
                    "last_error": _describe(exc)[:ERROR_LIMIT],
                    "leased_by": None,
                }
                payload = self._progress(row, delivered)
                if payload is not None:
                    values["payload"] = payload
                await session.execute(self._mine(row).values(**values))
            await session.execute(
                update(Identity)
                .where(Identity.id == row.identity_id, Identity.blocked_at.is_(None))
                .values(blocked_at=day)
            )
            # A chat that blocked the bot no longer wants announcements.
            await unsubscribe(session, row.identity_id)

    async def _postpone(
        self,
        row: Claimed,
        seconds: float,
        stats: DrainStats,
        *,
        count_attempt: bool,
        delivered: int | None = None,
        error: Exception | None = None,
    ) -> None:
        await self._record(
            Outcome(
                row.id,
                row.attempts,
                not_before=self.clock() + dt.timedelta(seconds=seconds),
                payload=self._progress(row, delivered),
                new_attempts=None if count_attempt else row.attempts - 1,
                last_error=None if error is None else _describe(error)[:ERROR_LIMIT],
            )
        )
        stats.postponed += 1

    async def _retry_or_fail(
        self, row: Claimed, exc: Exception, stats: DrainStats, *, delivered: int
    ) -> float | None:
        """Back to pending after a backoff (its seconds returned), or failed (None)."""
        if row.attempts >= self.settings.outbox_max_attempts:
            await self._finish(row, OutboxStatus.FAILED, _describe(exc), delivered=delivered)
            stats.failed += 1
            return None
        delay = self.backoff(row.attempts)
        await self._record(
            Outcome(
                row.id,
                row.attempts,
                not_before=self.clock() + dt.timedelta(seconds=delay),
                payload=self._progress(row, delivered),
                last_error=_describe(exc)[:ERROR_LIMIT],
            )
        )
        stats.retried += 1
        return delay

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts`` (1, 2, …): doubling, capped."""
        base = self.settings.outbox_backoff_seconds
        return float(min(self.settings.outbox_backoff_max_seconds, base * 2 ** (attempts - 1)))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
