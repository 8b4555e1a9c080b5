"""Announcements going out: fan-out into the outbox, the author's live status, the final report.

- ``fan_out_due`` (a job every few seconds): for each scheduled announcement whose
  time has come, write its outbox rows batch by batch (``db.broadcasts.fan_out_batch``,
  one transaction each, resumable after a crash, never doubled).
- ``ProgressReporter.tick`` (every ``broadcast_progress_seconds``): the author's one
  status message (sent, pending, blocked, failed, time left, a Cancel button),
  edited in place through ``Channel.show``; when nothing is pending the announcement
  is done: the final counts, and for member audiences an Excel workbook (one sheet
  a unit: who received it, who blocked the bot). Citizens are only counted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import re
from collections.abc import Callable, Collection, Mapping

from sqlalchemy import select

from bot.channels.base import Channel, DeliveryError
from bot.config import Settings
from db import audit
from db import broadcasts as repo
from db.models import Broadcast, BroadcastStatus, Identity, utcnow
from db.session import Database, UnitOfWork
from handlers.i18n import _, format_datetime, format_number, set_language
from handlers.notify import enqueue
from handlers.render import bold
from handlers.types import Choice, Message
from scheduler.broadcast_media import keep_file

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


async def fan_out(
    db: Database, settings: Settings, broadcast_id: int, *, served: Collection[str] | None = None
) -> int:
    """Queue every recipient of one announcement; how many batches ran.

    Recipients on a channel not in ``served`` (None: all) are recorded as not reachable.
    """
    batches = 0
    while True:
        async with UnitOfWork(db) as uow:
            covered = await repo.fan_out_batch(
                uow.session, broadcast_id, settings.broadcast_fanout_batch, served
            )
            if covered == 0:
                b = await repo.get(uow.session, broadcast_id)
                audit.record(
                    uow.session,
                    "broadcast.queued",
                    actor_member_id=None,
                    object_kind="broadcast",
                    object_id=broadcast_id,
                    data={"recipients": b.recipients if b else None},
                )
            await uow.commit()
        if not covered:
            return batches
        batches += 1


async def fan_out_due(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    *,
    channels: Mapping[str, Channel] | None = None,
    served: Collection[str] | None = None,
) -> int:
    """The job: fan out every announcement whose time has come (its file kept first, when
    Zalo needs it: ``scheduler.broadcast_media``); how many were fanned out."""
    async with db.sessions() as session:
        due = await repo.due_for_fanout(session, now)
    done = 0
    for broadcast_id in due:
        if not await keep_file(db, settings, broadcast_id, now, channels=channels, served=served):
            continue
        await fan_out(db, settings, broadcast_id, served=served)
        done += 1
    return done


def served_channels(settings: Settings, channels: Collection[str] = ()) -> frozenset[str]:
    """The channels some process sends on: this one's, and those with a token configured
    (every process of a deployment is given the same settings)."""
    return frozenset(channels) | settings.messengers()


def _status_text(b: Broadcast, p: repo.Progress, now: dt.datetime, rate: float) -> str:
    lines = [bold(_("Announcement #{id}").format(id=b.id))]
    if b.status == BroadcastStatus.FANOUT:
        lines.append(_("Preparing the recipients…"))
    unreachable = ""
    if p.unreachable:
        unreachable = _("Not reachable {count}: this bot does not send on {channels}.").format(
            count=format_number(p.unreachable),
            channels=", ".join(c.capitalize() for c in p.unserved),
        )
    if _final(b, p):
        title = _("Finished.") if b.status == BroadcastStatus.DONE else _("Cancelled.")
        lines.append(title)
        lines.append(
            _(
                "Delivered {sent}, blocked {blocked}, failed {failed}, cancelled {cancelled}."
            ).format(
                sent=format_number(p.sent),
                blocked=format_number(p.blocked),
                failed=format_number(p.failed),
                cancelled=format_number(p.cancelled),
            )
        )
        return "\n".join([*lines, unreachable] if unreachable else lines)
    if b.status == BroadcastStatus.CANCELLED:
        lines.append(_("Cancelling: the messages already on their way finish."))
    lines.append(
        _("Sent {sent}, pending {pending}, blocked {blocked}, failed {failed}.").format(
            sent=format_number(p.sent),
            pending=format_number(p.pending),
            blocked=format_number(p.blocked),
            failed=format_number(p.failed),
        )
    )
    if unreachable:
        lines.append(unreachable)
    if p.pending and b.status != BroadcastStatus.CANCELLED:
        seconds = int(p.pending / max(rate, 0.1))
        lines.append(
            _("About {minutes} min {seconds} s left.").format(
                minutes=seconds // 60, seconds=seconds % 60
            )
        )
    lines.append(_("Updated {time}").format(time=format_datetime(now)))
    return "\n".join(lines)


def _final(b: Broadcast, p: repo.Progress) -> bool:
    """Done, or cancelled with nothing left on its way (a claimed row is the sender's
    until it records what became of it)."""
    return b.status == BroadcastStatus.DONE or (
        b.status == BroadcastStatus.CANCELLED and p.pending == 0
    )


def final_counts(b: Broadcast, p: repo.Progress) -> repo.Progress:
    """The counts of a cancelled announcement: recipients never queued (cancelled during
    its fan-out or before it) are cancelled too, so the counts add up to its recipients."""
    if b.status != BroadcastStatus.CANCELLED:
        return p
    unqueued = max(0, (b.recipients or 0) - p.total)
    return dataclasses.replace(p, cancelled=p.cancelled + unqueued)


def _rate(p: repo.Progress, fallback: float) -> float:
    """Messages a second so far (for the time left), or the configured rate."""
    if p.first_sent and p.last_sent and p.sent > 10:
        span = (p.last_sent - p.first_sent).total_seconds()
        if span > 0:
            return p.sent / span
    return fallback


def report_workbook(rows: list[repo.ReportRow]) -> bytes:
    """One summary sheet, then one sheet a unit: who received it, who blocked the bot."""
    from db.models import Role
    from handlers.export import XlsxWriter
    from handlers.start import role_label

    status_names = {
        "sent": _("received"),
        "blocked": _("blocked the bot"),
        "failed": _("failed"),
        "cancelled": _("cancelled"),
        "pending": _("pending"),
        "unreachable": _("not reachable (channel not set up)"),
    }
    by_unit: dict[tuple[str, str], list[repo.ReportRow]] = {}
    for row in rows:
        by_unit.setdefault((row.unit_code, row.unit_name), []).append(row)
    out = io.BytesIO()
    book = XlsxWriter(out)
    book.sheet(
        _("Summary"),
        "summary.csv",
        [_("Unit"), _("Received"), _("Blocked"), _("Failed"), _("Cancelled"), _("Not reachable")],
        [40, 12, 12, 12, 12, 14],
    )
    for (_code, name), unit_rows in by_unit.items():
        count = {s: sum(1 for r in unit_rows if r.status == s) for s in status_names}
        book.row(
            [
                name,
                count["sent"],
                count["blocked"],
                count["failed"],
                count["cancelled"],
                count["unreachable"],
            ]
        )
    used: set[str] = set()
    for (code, name), unit_rows in by_unit.items():
        title = re.sub(r"[\[\]:*?/\\]", "-", name)[:28]  # characters Excel refuses
        if title in used:
            title = re.sub(r"[\[\]:*?/\\]", "-", code)[:28]
        used.add(title)
        book.sheet(
            title,
            f"{code}.csv",
            [_("Name"), _("Role"), _("Channel"), _("Status")],
            [32, 24, 12, 18],
        )
        for r in unit_rows:
            book.row(
                [
                    r.member_name,
                    role_label(Role(r.role)),
                    r.channel,
                    status_names.get(r.status, r.status),
                ]
            )
    book.finish()
    return out.getvalue()


class ProgressReporter:
    """Keeps each author's status message up to date, and closes finished announcements."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.channels = dict(channels)
        self.clock = clock

    async def tick(self) -> int:
        """One round over the announcements going out; how many status messages were shown."""
        async with self.db.sessions() as session:
            ids = [
                b.id for b in await repo.active(session) if b.status != BroadcastStatus.SCHEDULED
            ]
            ids += await self._unreported_finished(session)
        shown = 0
        for broadcast_id in ids:
            try:
                shown += await self._update(broadcast_id)
            except DeliveryError as exc:
                log.warning("broadcast %s: status message not shown: %s", broadcast_id, exc)
        return shown

    async def _unreported_finished(self, session: object) -> list[int]:
        from sqlalchemy.ext.asyncio import AsyncSession

        assert isinstance(session, AsyncSession)
        stmt = select(Broadcast.id).where(
            Broadcast.status == BroadcastStatus.CANCELLED.value,
            Broadcast.counts["final"].astext.is_(None),
        )
        return list((await session.execute(stmt)).scalars().all())

    async def _update(self, broadcast_id: int) -> int:
        now = self.clock()
        async with UnitOfWork(self.db) as uow:
            b = await repo.get(uow.session, broadcast_id, lock=True)
            if b is None:
                return 0
            p = final_counts(b, await repo.progress(uow.session, b.id))
            finishing = b.status == BroadcastStatus.SENDING and p.pending == 0
            if finishing:
                b.status = BroadcastStatus.DONE.value
                b.finished_at = now
                audit.record(
                    uow.session,
                    "broadcast.done",
                    actor_member_id=None,
                    object_kind="broadcast",
                    object_id=b.id,
                    data={
                        "sent": p.sent,
                        "blocked": p.blocked,
                        "failed": p.failed,
                        "unreachable": p.unreachable,
                    },
                )
            final = _final(b, p)
            b.counts = {
                "sent": p.sent,
                "pending": p.pending,
                "blocked": p.blocked,
                "failed": p.failed,
                "cancelled": p.cancelled,
                "unreachable": p.unreachable,
                **({"final": True} if final else {}),
            }
            author = (
                await uow.session.get(Identity, b.status_identity_id)
                if b.status_identity_id
                else None
            )
            channel = self.channels.get(author.channel) if author is not None else None
            if author is not None and channel is not None:
                set_language(author.language)
                stoppable = not final and b.status != BroadcastStatus.CANCELLED
                choices = [Choice(f"bcx:x:{b.id}", _("Cancel the rest"))] if stoppable else []
                rate = _rate(p, self.settings.bot_rate_per_second)
                message = Message(_status_text(b, p, now, rate), choices=choices)
                b.status_message_id = await channel.show(
                    author.chat_id, message, replace=b.status_message_id
                )
                if final and b.audience.get("roles"):
                    await self._send_report(uow, b, author)
            await uow.commit()
        return 1 if channel is not None else 0

    async def _send_report(self, uow: UnitOfWork, b: Broadcast, author: Identity) -> None:
        rows = list(await repo.member_report(uow.session, b))
        if not rows:
            return
        data = report_workbook(rows)

        def render() -> list[Message]:
            return [
                Message(
                    _("Delivery report of announcement #{id} (members, by unit).").format(id=b.id),
                    document=data,
                    document_name=f"thong-bao-{b.id}.xlsx",
                )
            ]

        await enqueue(uow.session, author, render, dedup_key=f"bc-report:{b.id}")
