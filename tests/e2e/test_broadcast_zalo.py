"""An announcement to a Zalo subscriber: plain text with the link as a line and the stop
button as a numbered choice; answering its number ends the subscription."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.config import Settings
from db import broadcasts as repo
from db.models import Unit
from db.session import Database, UnitOfWork
from db.units import by_code
from handlers.broadcast import save
from scheduler.broadcast import fan_out
from scheduler.outbox import OutboxSender
from tests.e2e.test_subscribe import ZALO_CITIZEN, subscribed
from tests.e2e.test_zalo import ZaloUser, zalo_bot
from tests.fakes.zalo_api import FakeZaloAPI
from tests.integration.tip_helpers import make_world


async def test_an_announcement_on_zalo_and_stop_by_number(db: Database, tmp_path: Path) -> None:
    await make_world(db)
    async with FakeZaloAPI(long_poll_cap=0.5) as zapi, zalo_bot(zapi, db, tmp_path / "data") as rt:
        citizen = ZaloUser(zapi, ZALO_CITIZEN)
        await citizen.say("/start")
        await citizen.say(citizen.number_of("Nhận thông báo"))
        await citizen.say("ben thuy")
        async with UnitOfWork(db) as uow:
            unit = await by_code(uow.session, "vinh")
            assert isinstance(unit, Unit)
            content = {
                "text": "Cảnh giác <lừa đảo> qua mạng.",
                "unit_name": unit.name,
                "link": {"label": "Xem chi tiết", "url": "https://congan.nghean.gov.vn/a"},
            }
            now = dt.datetime.now(dt.UTC)
            count = await repo.count_audience(uow.session, unit, [], True)
            assert count.by_channel == {"zalo": 1}
            b, _asked = await save(
                uow.session,
                Settings(),
                author_member_id=None,
                unit=unit,
                roles=[],
                citizens=True,
                content=content,
                send_at=None,
                now=now - dt.timedelta(seconds=1),
                recipients=count.total,
                status_identity_id=None,
            )
            await uow.commit()
        settings = Settings(quiet_start="00:00", quiet_end="00:00")  # type: ignore[arg-type]
        await fan_out(db, settings, b.id)
        since = zapi.mark()
        stats = await OutboxSender(db, settings, rt.channels()).drain_once()
        assert stats.sent == 1
        [got] = zapi.sent_messages(ZALO_CITIZEN, since=since)
        assert got.text is not None
        assert got.text.startswith("📢 Thông báo của Thành phố Vinh")
        assert "Cảnh giác <lừa đảo> qua mạng." in got.text  # plain text, unescaped
        assert "Xem chi tiết: https://congan.nghean.gov.vn/a" in got.text
        assert "1. Dừng nhận thông báo" in got.text
        await citizen.say("1")
        assert "không còn nhận thông báo" in citizen.text
        assert await subscribed(db, "zalo", ZALO_CITIZEN) == []
        zapi.assert_no_violations()
