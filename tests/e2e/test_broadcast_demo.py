"""The demo's announcement tour on the real demo wiring (emulator channel, scheduler
triggers, sender, progress): the citizen subscribes to Xã Nam Giang, the admin sends an
announcement with a photo to officers and subscribers, the status message is edited in
place until it says it is finished, and the member report arrives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.channels.emulator.channel import Entry, Input
from bot.config import Settings
from bot.demo import running_demo
from bot.demo_seed import seed
from db.session import Database, UnitOfWork
from tests.e2e.test_emulator_api import tiny_png


async def until(check, within: float = 60) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


def texts(entries: list[Entry]) -> str:
    return "\n".join(e.html for e in entries)


async def test_citizen_subscribes_and_admin_sends_with_a_photo(
    db: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, web_port=0, broadcast_progress_seconds=0.5)
    async with UnitOfWork(db) as uow:
        await seed(uow.session, settings)
        await uow.commit()
    async with running_demo(settings, db) as demo:
        emu = demo.channel
        await emu.submit("citizen", Input(text="/start"))
        await emu.submit("citizen", Input(choice="m:sub"))
        _mine, replies = await emu.submit("citizen", Input(text="Nam Giang"))
        assert "Xã Nam Giang" in texts(replies) and "Xong" in texts(replies)

        photo = emu.store_upload(tiny_png(), "image/png", "canh-bao.png")
        await emu.submit("admin", Input(text="/broadcast"))
        await emu.submit("admin", Input(upload=photo, text="Cảnh giác lừa đảo qua mạng."))
        await emu.submit("admin", Input(choice="bc:skip"))
        await emu.submit("admin", Input(choice="bc:a:officer"))
        await emu.submit("admin", Input(choice="bc:a:citizens"))
        _mine, replies = await emu.submit("admin", Input(choice="bc:next"))
        # Officers of Nam Đàn, Nam Giang and Kim Liên; the neighbour and the citizen in Nam Giang.
        assert "Người nhận: 5" in texts(replies)
        await emu.submit("admin", Input(choice="bc:now"))
        await emu.submit("admin", Input(choice="bc:ok"))

        def got_photo(persona: str) -> bool:
            return any(e.image for e in emu.history(persona))

        await until(lambda: got_photo("citizen") and got_photo("officer"))
        last = emu.history("citizen")[-1]
        assert "Thông báo của Tỉnh Nghệ An" in last.html
        assert [c["id"] for c in last.choices] == ["sub:stop"]
        await until(lambda: "Đã hoàn tất." in texts(emu.history("admin")))
        status = [e for e in emu.history("admin") if e.proactive and "Thông báo #1" in e.html]
        assert len(status) == 1  # one status message, edited in place
        assert "Đã nhận 5, đã chặn 0, lỗi 0, đã hủy 0." in status[0].html
        await until(lambda: any(e.document for e in emu.history("admin")))
