"""Cancel while an announcement goes out, with the real sender against the fake Bot API: the
rows the sender has already claimed stop too (it checks before each hand-over), what did go
out is counted delivered, and delivered + cancelled is every recipient."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from bot.config import Settings
from db.members import identity_for
from db.models import Outbox, Subscription, Unit, utcnow
from db.session import Database
from scheduler.broadcast import ProgressReporter, fan_out_due
from scheduler.cancel_watch import REFRESH
from scheduler.limits import Limiter, Rates
from scheduler.outbox import OutboxSender
from tests.e2e.telegram_support import TgUser, bot_running
from tests.e2e.test_broadcast_telegram import ADMIN, NO_QUIET, setup_people
from tests.e2e.test_tip_telegram import press_on
from tests.fakes.telegram_api import FakeTelegramAPI

SUBSCRIBERS = [9100 + n for n in range(30)]
RATE = 10.0  # messages a second: the 30 take 3 s, the cancel comes after about 6


async def subscribe_all(db: Database) -> None:
    async with db.sessions() as s:
        unit_id = await s.scalar(select(Unit.id).where(Unit.code == "nghi-huong"))
        assert unit_id is not None
        for chat in SUBSCRIBERS:
            identity = await identity_for(s, "telegram", str(chat), language="vi")
            s.add(Subscription(identity_id=identity.id, unit_id=unit_id, created_at=utcnow()))
        await s.commit()


async def statuses(db: Database) -> dict[str, int]:
    async with db.sessions() as s:
        rows = (
            await s.execute(
                select(Outbox.status, func.count())
                .where(Outbox.broadcast_id.is_not(None))
                .group_by(Outbox.status)
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


async def test_cancel_stops_the_rows_the_sender_holds(db: Database) -> None:
    async with FakeTelegramAPI() as api, bot_running(api, db, **NO_QUIET) as rt:
        await setup_people(db)
        await subscribe_all(db)
        admin = TgUser(api, ADMIN, first_name="Bảo")
        await admin.say("/broadcast")
        await admin.say("Lễ hội đền Vua Mai: cấm đường từ 6 giờ.")
        await press_on(admin, "bc:skip")
        await press_on(admin, "bc:a:citizens")
        await press_on(admin, "bc:next")
        assert "Recipients: 30" in admin.text
        await press_on(admin, "bc:now")
        await press_on(admin, "bc:ok")

        settings = Settings(outbox_batch_size=100, **NO_QUIET)  # type: ignore[arg-type]
        assert await fan_out_due(db, settings, utcnow()) == 1
        sender = OutboxSender(
            db, settings, rt.channels(), limiter=Limiter(Rates(bot_per_second=RATE))
        )
        sending = asyncio.create_task(sender.drain_once())  # claims all 30 at once

        def to_subscribers(call: object) -> bool:
            return getattr(call, "chat_id", None) in SUBSCRIBERS

        await api.wait_for(to_subscribers, 10, count=6)
        reporter = ProgressReporter(db, settings, rt.channels())
        await reporter.tick()  # the status message, with its Cancel button
        assert (await statuses(db)).get("pending", 0) > 0
        await press_on(admin, "bcx:x:1")
        cancelled_at = time.monotonic()  # the cancel is committed before its answer goes
        assert "Announcement #1 is cancelled" in admin.text
        stats = await asyncio.wait_for(sending, 30)

        delivered = [c for c in api.calls if c.method == "sendMessage" and to_subscribers(c)]
        late = [c for c in delivered if c.timestamp > cancelled_at + REFRESH]
        assert len(late) <= 1, late  # nothing handed over once the sender saw the cancel
        counts = await statuses(db)
        assert counts["sent"] == len(delivered) == stats.sent  # each delivery counted, once
        assert counts["sent"] + counts["cancelled"] == len(SUBSCRIBERS)
        assert counts["cancelled"] >= 15 and stats.cancelled > 0  # claimed rows stopped too
        assert "pending" not in counts

        await reporter.tick()
        final = api.sent_messages(ADMIN)[-1]
        assert final.method == "editMessageText"
        text = final.plain_text or ""
        assert "Cancelled." in text
        assert (
            f"Delivered {len(delivered)}, blocked 0, failed 0, "
            f"cancelled {len(SUBSCRIBERS) - len(delivered)}." in text
        )
        api.assert_no_violations()
