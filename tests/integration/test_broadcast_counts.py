"""Recipients on a channel no process sends on (Zalo without a token): counted at fan-out as
not reachable, never left pending, so the announcement finishes and its counts add up; the
author's status and the member report say why. And a cancel before or during fan-out counts
the recipients never queued as cancelled."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import select, update

from bot.channels.base import PermanentError, RecipientBlocked
from bot.config import Settings
from db import broadcasts as repo
from db.members import identity_for
from db.models import Audit, Broadcast, Identity, Outbox, Subscription
from db.session import Database
from scheduler.broadcast import (
    ProgressReporter,
    fan_out,
    fan_out_due,
    report_workbook,
    served_channels,
)
from scheduler.jobs import SchedulerService
from scheduler.outbox import OutboxSender
from tests.integration.test_broadcast import (
    MORNING,
    add_admins,
    add_subscribers,
    broadcast_rows,
    compose,
    staff_like,
)
from tests.integration.test_outbox import ScriptedChannel
from tests.integration.tip_helpers import make_engine, make_world
from tests.support import Clock

NO_QUIET = Settings(quiet_start="00:00", quiet_end="00:00")  # type: ignore[arg-type]


async def zalo_subscribers(db: Database, unit_id: int, count: int) -> None:
    async with db.sessions() as s:
        for n in range(count):
            identity = await identity_for(s, "zalo", f"z-{n}", language="vi")
            s.add(Subscription(identity_id=identity.id, unit_id=unit_id, created_at=MORNING))
        await s.commit()


def test_served_channels_are_this_process_s_and_those_with_a_token() -> None:
    assert Settings(telegram_token="1:x").messengers() == {"telegram"}  # type: ignore[arg-type]
    assert served_channels(Settings()) == frozenset()
    assert served_channels(Settings(), ["emulator"]) == {"emulator"}
    with_zalo = Settings(zalo_token="123:abc")  # type: ignore[arg-type]
    assert served_channels(with_zalo) == {"zalo"}
    both = Settings(telegram_token="1:x", zalo_token=" ")  # type: ignore[arg-type]
    assert served_channels(both, ["telegram"]) == {"telegram"}  # a blank token serves nothing


async def test_a_scheduler_without_zalo_counts_zalo_recipients_not_reachable(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 3)
    await zalo_subscribers(db, world.units["ben-thuy"], 2)
    async with db.sessions() as s:  # the officer of Bến Thủy reads the bot on Zalo only
        await s.execute(
            update(Identity).where(Identity.external_id == "o-bt").values(channel="zalo")
        )
        await s.commit()
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:officer")
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    # o-nh (test), o-bt (zalo), three subscribers on test, two on Zalo
    assert "Recipients: 7" in author.text and "By channel: Test 4, Zalo 3" in author.text
    assert "Zalo is not set up on this bot: 3 will not be reached." in author.text
    await author.press("bc:now")
    await author.press("bc:ok")

    channel = ScriptedChannel("test")
    service = SchedulerService(db, NO_QUIET, {"test": channel}, send=False)
    assert service.served == {"test"}  # no Zalo token: no process sends on Zalo
    assert await fan_out_due(db, NO_QUIET, MORNING, served=service.served) == 1
    [b] = await broadcast_rows(db)
    async with db.sessions() as s:
        rows = (
            await s.execute(
                select(Identity.channel, Outbox.status, Outbox.last_error)
                .join(Identity, Identity.id == Outbox.identity_id)
                .where(Outbox.broadcast_id == b.id)
            )
        ).all()
    assert sorted(rows) == [
        ("test", "pending", None),
        ("test", "pending", None),
        ("test", "pending", None),
        ("test", "pending", None),
        ("zalo", "failed", "unserved:zalo"),
        ("zalo", "failed", "unserved:zalo"),
        ("zalo", "failed", "unserved:zalo"),
    ]
    channel.fail("c-1", RecipientBlocked("Forbidden: bot was blocked by the user"))
    channel.fail("c-2", PermanentError("Bad Request: message is too long"))
    sender = OutboxSender(db, NO_QUIET, {"test": channel}, clock=lambda: MORNING)
    stats = await sender.drain_once()
    assert (stats.sent, stats.blocked, stats.failed) == (2, 1, 1)
    async with db.sessions() as s:
        p = await repo.progress(s, 1)
    assert (p.sent, p.blocked, p.failed, p.unreachable, p.unserved) == (2, 1, 1, 3, ("zalo",))
    assert p.first_sent == p.last_sent == MORNING  # the sent rows' times, no other's

    reporter = ProgressReporter(db, NO_QUIET, {"test": channel}, clock=lambda: MORNING)
    await reporter.tick()
    [b] = await broadcast_rows(db)
    assert b.status == "done"
    assert b.counts == {
        "sent": 2,
        "pending": 0,
        "blocked": 1,
        "failed": 1,
        "cancelled": 0,
        "unreachable": 3,
        "final": True,
    }
    assert b.recipients == 7  # 2 + 1 + 1 + 3: the counts add up
    status = channel.texts("a-1")[-1]
    assert "Finished." in status and "Delivered 2, blocked 1, failed 1, cancelled 0." in status
    assert "Not reachable 3: this bot does not send on Zalo." in status

    async with db.sessions() as s:
        report = await repo.member_report(s, b)
    assert sorted((r.member_name, r.channel, r.status) for r in report) == [
        ("Trần Thị Hoa", "test", "sent"),
        ("Đặng Văn Bình", "zalo", "unreachable"),
    ]
    book = load_workbook(io.BytesIO(report_workbook(list(report))))
    summary = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert summary[0][-1] == "Not reachable"
    assert sorted(summary[1:]) == [
        ("Phường Bến Thủy", 0, 0, 0, 0, 1),
        ("Phường Nghi Hương", 1, 0, 0, 0, 0),
    ]
    people = [r for ws in book.worksheets[1:] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert ("Đặng Văn Bình", "commune officer", "zalo", "not reachable (channel not set up)") in [
        tuple(p) for p in people
    ]


async def test_a_cancel_before_fan_out_counts_every_recipient_cancelled(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 6)
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    await author.press("bc:at")
    await author.say("05/05/2025 18:00")
    await author.press("bc:ok")
    await author.press("bcx:x:1")
    assert "Announcement #1 is cancelled; 0 messages" in author.text
    channel = ScriptedChannel("test")
    await ProgressReporter(db, NO_QUIET, {"test": channel}, clock=lambda: MORNING).tick()
    [b] = await broadcast_rows(db)
    assert b.status == "cancelled" and b.recipients == 6
    assert b.counts["cancelled"] == 6 and b.counts["final"] is True
    assert "Delivered 0, blocked 0, failed 0, cancelled 6." in channel.texts("a-1")[-1]
    assert await fan_out(db, NO_QUIET, 1) == 0  # a cancelled announcement is never queued
    async with db.sessions() as s:
        assert (await s.execute(select(Outbox.id))).all() == []
    async with db.sessions() as s:
        assert await s.scalar(select(Broadcast.status).where(Broadcast.id == 1)) == "cancelled"


async def test_rows_a_sender_holds_at_the_cancel_are_its_own_to_stop(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 5)
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    await author.press("bc:now")
    await author.press("bc:ok")
    await fan_out_due(db, NO_QUIET, MORNING)
    async with db.sessions() as s:  # a sender claimed two of them, then took its time
        held = (
            await s.execute(select(Outbox.id).where(Outbox.broadcast_id == 1).limit(2))
        ).scalars()
        await s.execute(update(Outbox).where(Outbox.id.in_(list(held))).values(leased_by="other"))
        await s.commit()
    await author.press("bcx:x:1")
    assert "Announcement #1 is cancelled; 5 messages not yet sent" in author.text
    async with db.sessions() as s:
        p = await repo.progress(s, 1)
    assert (p.cancelled, p.pending, p.total) == (3, 2, 5)
    async with db.sessions() as s:
        rows = (await s.execute(select(Outbox.status, Outbox.leased_by, Outbox.last_error))).all()
        keys = (await s.execute(select(Outbox.dedup_key, Outbox.identity_id))).all()
    assert sorted(rows, key=str) == sorted(
        [("cancelled", None, "cancelled")] * 3 + [("pending", "other", None)] * 2, key=str
    )
    assert all(key == f"b:1:{identity}" for key, identity in keys)  # one row a person

    channel = ScriptedChannel("test")
    reporter = ProgressReporter(db, NO_QUIET, {"test": channel}, clock=lambda: MORNING)
    await reporter.tick()
    status = channel.texts("a-1")[-1]
    assert "Cancelling: the messages already on their way finish." in status
    assert "Sent 0, pending 2, blocked 0, failed 0." in status and "left" not in status
    [b] = await broadcast_rows(db)
    assert "final" not in b.counts and b.status == "cancelled"

    # The holder (or the sender taking its rows back) sees the cancel before sending.
    sender = OutboxSender(db, NO_QUIET, {"test": channel}, clock=lambda: MORNING)
    stats = await sender.drain_once()
    assert (stats.claimed, stats.cancelled, stats.sent) == (2, 2, 0)
    assert [chat for chat, _text in channel.delivered if chat.startswith("c-")] == []
    await reporter.tick()
    status = channel.texts("a-1")[-1]
    assert "Cancelled." in status and "Delivered 0, blocked 0, failed 0, cancelled 5." in status
    [b] = await broadcast_rows(db)
    assert b.counts["final"] is True and b.counts["cancelled"] == 5 == b.recipients


def test_the_time_left_uses_the_rate_measured_once_there_is_one() -> None:
    from scheduler.broadcast import _rate

    t0 = MORNING
    measured = repo.Progress(sent=11, first_sent=t0, last_sent=t0 + dt.timedelta(seconds=2))
    assert _rate(measured, 30.0) == 5.5
    too_few = repo.Progress(sent=10, first_sent=t0, last_sent=t0 + dt.timedelta(seconds=2))
    assert _rate(too_few, 30.0) == 30.0
    brief = repo.Progress(sent=20, first_sent=t0, last_sent=t0 + dt.timedelta(seconds=0.5))
    assert _rate(brief, 30.0) == 40.0
    assert _rate(repo.Progress(sent=20, first_sent=t0, last_sent=t0), 30.0) == 30.0
    assert _rate(repo.Progress(sent=20, first_sent=None, last_sent=t0), 30.0) == 30.0
    assert _rate(repo.Progress(sent=20, first_sent=t0, last_sent=None), 30.0) == 30.0


async def test_an_announcement_being_fanned_out_is_not_finished(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 2)
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    await author.press("bc:now")
    await author.press("bc:ok")
    async with db.sessions() as s:  # its fan-out has begun; no row is queued yet
        await s.execute(update(Broadcast).where(Broadcast.id == 1).values(status="fanout"))
        await s.commit()
    channel = ScriptedChannel("test")
    await ProgressReporter(db, NO_QUIET, {"test": channel}, clock=lambda: MORNING).tick()
    [b] = await broadcast_rows(db)
    assert b.status == "fanout" and "final" not in b.counts
    assert "Preparing the recipients…" in channel.texts("a-1")[-1]
    assert "Finished." not in channel.texts("a-1")[-1]


async def test_the_fan_out_is_audited_once_with_its_recipients(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 7)
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    await author.press("bc:now")
    await author.press("bc:ok")
    settings = Settings(broadcast_fanout_batch=3)
    assert await fan_out(db, settings, 1) == 3  # 3 + 3 + 1
    async with db.sessions() as s:
        queued = (
            (await s.execute(select(Audit).where(Audit.action == "broadcast.queued")))
            .scalars()
            .all()
        )
    assert [(a.object_kind, a.object_id, a.data) for a in queued] == [
        ("broadcast", "1", {"recipients": 7})
    ]


async def test_an_empty_audience_reaches_nobody(db: Database) -> None:
    world = await make_world(db)
    await add_subscribers(db, world.units["ben-thuy"], 1, 2)
    async with db.sessions() as s:
        from db.models import Unit

        unit = await s.get(Unit, world.units["nghe-an"])
        assert unit is not None
        nobody = await repo.count_audience(s, unit, [], False)
        citizens = await repo.count_audience(s, unit, [], True)
    assert (nobody.total, nobody.by_channel) == (0, {})
    assert (citizens.total, citizens.by_channel, citizens.by_language) == (
        2,
        {"test": 2},
        {"vi": 2},
    )


def test_a_unit_path_is_matched_literally_below_it() -> None:
    # LIKE's own characters in a path match only themselves; the subtree is what follows.
    assert repo._like("/1/a_b%c\\d/") == "/1/a\\_b\\%c\\\\d/%"


def test_every_outcome_counts_towards_the_total() -> None:
    p = repo.Progress(sent=1, pending=2, blocked=4, failed=8, cancelled=16, unreachable=32)
    assert p.total == 63
