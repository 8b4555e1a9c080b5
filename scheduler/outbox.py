"""The outbox sender: claims due rows, sends them through their channel, records the outcome.

Any number of senders (tasks or processes) may run over one database:

1. **Claim**, in one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED LIMIT n``
   of pending rows whose ``not_before`` has come, personal rows before announcements,
   urgent ones first; each claimed
   row gets ``attempts + 1`` and ``not_before = now + lease``. Two senders never
   claim the same row, and the rows of a sender that dies come back after the lease.
2. **Send** outside any transaction, one message at a time under the token buckets
   of :mod:`scheduler.limits`; rows to one chat go in order.
3. **Record**, guarded by the claimed ``attempts`` (a fencing token: a sender whose
   lease ran out cannot overwrite the row's next claim):

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
   messages went out (``delivered``), so a retry does not repeat them.

Quiet hours (``quiet_start``–``quiet_end``, local time): non-urgent rows that fall
due are moved to the end of the quiet hours; urgent rows still go.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from bot.channels.base import (
    Channel,
    PermanentError,
    RateLimited,
    RecipientBlocked,
    TransientError,
)
from bot.config import Settings
from db.models import Broadcast, Identity, Outbox, OutboxStatus, utcnow
from db.session import Database
from db.subscriptions import unsubscribe
from handlers.i18n import set_language
from handlers.types import message_from_json
from scheduler.limits import Limiter, Rates

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
ERROR_LIMIT = 1000  # characters of an error kept in last_error


# --- quiet hours ---------------------------------------------------------------


def quiet_until(now: dt.datetime, settings: Settings) -> dt.datetime | None:
    """The end of the quiet hours ``now`` falls in (UTC), or None outside them."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return None
    tz = ZoneInfo(settings.timezone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # across midnight, e.g. 21:00-07:00
        inside = t >= start or t < end
        end_day = local.date() + dt.timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return dt.datetime.combine(end_day, end, tzinfo=tz).astimezone(dt.UTC)


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

    kind: str  # "next": go on; "held": wait ``delay`` too; "blocked": block them too
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
    ) -> None:
        self.db = db
        self.settings = settings
        self.channels = dict(channels)
        self.clock = clock
        self._announcements: dict[int, dict[str, Any]] = {}
        self._announcements_lock = asyncio.Lock()
        self.limiter = limiter or Limiter(
            Rates(
                bot_per_second=settings.bot_rate_per_second,
                chat_per_second=settings.chat_rate_per_second,
                group_per_minute=settings.group_rate_per_minute,
            )
        )

    # -- the loop ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; sleeps ``outbox_poll_seconds`` when idle."""
        log.info("outbox sender started for %s", ", ".join(sorted(self.channels)) or "nothing")
        while not stop.is_set():
            try:
                stats = await self.drain_once()
                busy = stats.claimed >= self.settings.outbox_batch_size
            except DBAPIError:
                log.exception("outbox sender: database error")
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), self.settings.outbox_poll_seconds)
                except TimeoutError:
                    pass

    async def drain_once(self) -> DrainStats:
        """Claim one batch of due rows and send them; what happened to each, counted."""
        stats = DrainStats()
        if not self.channels:
            return stats
        now = self.clock()
        quiet_end = quiet_until(now, self.settings)
        if quiet_end is not None:
            stats.held = await self._hold_for_quiet_hours(now, quiet_end)
        rows = await self._claim(now, urgent_only=quiet_end is not None)
        stats.claimed = len(rows)
        by_chat: dict[tuple[str, str], list[Claimed]] = {}
        for row in rows:
            by_chat.setdefault((row.channel, row.chat_id), []).append(row)
        await asyncio.gather(*(self._send_chat(chat_rows, stats) for chat_rows in by_chat.values()))
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

    async def _claim(self, now: dt.datetime, *, urgent_only: bool) -> list[Claimed]:
        lease = dt.timedelta(seconds=self.settings.outbox_lease_seconds)
        due = (
            select(Outbox.id)
            .join(Identity, Identity.id == Outbox.identity_id)
            .where(
                Outbox.status == OutboxStatus.PENDING.value,
                Outbox.not_before <= now,
                Identity.channel.in_(sorted(self.channels)),
            )
            # Personal rows before announcements (which may be 100,000 rows), then urgent first.
            .order_by(
                Outbox.broadcast_id.isnot(None), Outbox.urgent.desc(), Outbox.not_before, Outbox.id
            )
            .limit(self.settings.outbox_batch_size)
            .with_for_update(of=Outbox, skip_locked=True)
        )
        if urgent_only:
            due = due.where(Outbox.urgent.is_(True))
        due_cte = due.cte("due")
        claim = (
            update(Outbox)
            .where(Outbox.id.in_(select(due_cte.c.id)))
            .values(not_before=now + lease, attempts=Outbox.attempts + 1)
            .returning(Outbox.id, Outbox.identity_id, Outbox.payload, Outbox.attempts)
        )
        async with self.db.sessions.begin() as session:
            claimed = (await session.execute(claim)).all()
            if not claimed:
                return []
            ids = {r.identity_id for r in claimed}
            people = {
                p.id: p
                for p in (
                    await session.execute(
                        select(
                            Identity.id,
                            Identity.channel,
                            Identity.chat_id,
                            Identity.blocked_at,
                            Identity.language,
                        ).where(Identity.id.in_(ids))
                    )
                ).all()
            }
        rows = [
            Claimed(
                id=r.id,
                identity_id=r.identity_id,
                channel=people[r.identity_id].channel,
                chat_id=people[r.identity_id].chat_id,
                payload=r.payload,
                attempts=r.attempts,
                blocked=people[r.identity_id].blocked_at is not None,
                language=people[r.identity_id].language,
            )
            for r in claimed
        ]
        return sorted(rows, key=lambda r: r.id)

    # -- sending ------------------------------------------------------------------

    async def _send_chat(self, rows: list[Claimed], stats: DrainStats) -> None:
        """One chat's rows, in order; a row that must wait holds back the rest with it."""
        # A task of its own (gather): the language set here is this chat's alone.
        set_language(rows[0].language)
        for index, row in enumerate(rows):
            try:
                outcome = await self._send_row(row, stats)
            except DBAPIError:
                log.exception("outbox row %s: database error while recording", row.id)
                outcome = _Outcome.held(self.settings.outbox_backoff_seconds)
            if outcome.kind == "next":
                continue
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
        messages = row.payload.get("messages")
        if messages is None:  # an announcement's row: its messages live on the broadcast
            messages = await self._announcement(row)
        start = int(row.payload.get("delivered", 0))
        for index in range(start, len(messages)):
            wait = self.limiter.chat_wait(row.channel, row.chat_id)
            if wait > self.settings.outbox_max_wait_seconds:
                await self._postpone(row, wait, stats, count_attempt=False, delivered=index)
                return _Outcome.held(wait)
            await self.limiter.acquire(row.channel, row.chat_id)
            try:
                await channel.send(row.chat_id, [message_from_json(messages[index])])
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
        await self._finish(row, OutboxStatus.SENT, None, delivered=len(messages))
        stats.sent += 1
        return _Outcome("next")

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

    async def _record(self, row: Claimed, values: dict[str, Any]) -> bool:
        async with self.db.sessions.begin() as session:
            done = (await session.execute(self._mine(row).values(**values))).first()
        if done is None:
            log.warning("outbox row %s: lease lost before the outcome was recorded", row.id)
        return done is not None

    def _progress(self, row: Claimed, delivered: int | None) -> dict[str, Any]:
        if delivered is None or delivered == int(row.payload.get("delivered", 0)):
            return {}
        return {"payload": {**row.payload, "delivered": delivered}}

    async def _finish(
        self,
        row: Claimed,
        status: OutboxStatus,
        error: str | None,
        *,
        delivered: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, **self._progress(row, delivered)}
        if status is OutboxStatus.SENT:
            values["sent_at"] = self.clock()
        if error is not None:
            values["last_error"] = error[:ERROR_LIMIT]
        await self._record(row, values)

    async def _blocked(self, row: Claimed, exc: Exception, *, delivered: int) -> None:
        now = self.clock()
        async with self.db.sessions.begin() as session:
            await session.execute(
                self._mine(row).values(
                    status=OutboxStatus.BLOCKED.value,
                    last_error=_describe(exc)[:ERROR_LIMIT],
                    **self._progress(row, delivered),
                )
            )
            await session.execute(
                update(Identity)
                .where(Identity.id == row.identity_id, Identity.blocked_at.is_(None))
                .values(blocked_at=now)
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
        values: dict[str, Any] = {
            "not_before": self.clock() + dt.timedelta(seconds=seconds),
            **self._progress(row, delivered),
        }
        if not count_attempt:
            values["attempts"] = row.attempts - 1
        if error is not None:
            values["last_error"] = _describe(error)[:ERROR_LIMIT]
        await self._record(row, values)
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
        values: dict[str, Any] = {
            "not_before": self.clock() + dt.timedelta(seconds=delay),
            "last_error": _describe(exc)[:ERROR_LIMIT],
            **self._progress(row, delivered),
        }
        await self._record(row, values)
        stats.retried += 1
        return delay

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts`` (1, 2, …): doubling, capped."""
        base = self.settings.outbox_backoff_seconds
        return float(min(self.settings.outbox_backoff_max_seconds, base * 2 ** (attempts - 1)))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
