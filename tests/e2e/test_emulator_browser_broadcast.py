"""The demo's announcement tour (README, "Ten minutes", step 5) in a real browser: the citizen
subscribes to Xã Nam Giang; the admin sends an announcement with a photo (the text as its
caption) to the district's officers and Nam Giang's subscribers, and watches its one status
message update itself until it is finished, then gets the delivery report; the citizen's copy
carries the photo and the button to stop receiving them.

Headless Debian Chromium driven by Playwright, as ``tests/e2e/test_emulator_browser.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.demo import Demo, running_demo
from bot.demo_seed import DEMO_START, seed
from db.session import Database, UnitOfWork
from tests.e2e.test_emulator_api import tiny_png
from tests.e2e.test_emulator_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)

if CHROMIUM.exists():
    from playwright.async_api import Page, async_playwright, expect

    from tests.e2e.test_emulator_browser import press, say, settled, shoot


@pytest.fixture
async def demo(db: Database, tmp_path: Path) -> AsyncIterator[Demo]:
    settings = Settings(data_dir=tmp_path, web_port=0, broadcast_progress_seconds=0.5)
    async with UnitOfWork(db) as uow:
        await seed(uow.session, settings)
        await uow.commit()
    async with running_demo(settings, db, start=DEMO_START) as running:
        yield running


@pytest.fixture
async def page(demo: Demo) -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 860}, locale="vi-VN"
            )
            tab = await context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            await tab.goto(demo.url)
            yield tab
            assert errors == [], errors
        finally:
            await browser.close()


async def test_the_citizen_subscribes_and_the_admin_announces_with_a_photo(
    page: Page, demo: Demo
) -> None:
    await page.click('[data-persona="citizen"]')
    await page.click("#start-button")
    await settled(page)
    await press(page, "m:sub")
    await say(page, "Nam Giang")
    await expect(page.locator("#messages .msg.bot").last).to_contain_text("Xã Nam Giang")

    await page.click('[data-persona="admin"]')
    await page.click("#start-button")
    await settled(page)
    await press(page, "m:broadcast")
    await page.fill("#composer-text", "Cảnh giác: giả danh công an gọi điện đòi chuyển tiền.")
    await page.set_input_files(  # the paper-clip, with the text as the photo's caption
        "#file-input",
        files=[{"name": "canh-bao.png", "mimeType": "image/png", "buffer": tiny_png(8, 6)}],
    )
    await settled(page)
    await press(page, "bc:skip")
    await press(page, "bc:area")  # the district, not the whole province
    await say(page, "Nam Đàn")
    await expect(page.locator("#messages .msg.bot").last).to_contain_text(
        "Gửi cho ai ở Huyện Nam Đàn?"
    )
    await press(page, "bc:a:officer")
    await press(page, "bc:a:citizens")
    await press(page, "bc:next")
    messages = page.locator("#messages")
    # Officers of the district, Nam Giang and Kim Liên; Nam Giang's two subscribers.
    await expect(messages).to_contain_text("Người nhận: 5")
    await expect(page.locator("#messages .msg.bot img")).to_have_count(1)  # the preview's
    await press(page, "bc:now")
    await press(page, "bc:ok")
    await expect(messages).to_contain_text("Thông báo #1 đang được gửi.")

    status = page.locator("#messages .msg.proactive", has_text="Thông báo #1")
    await expect(status).to_contain_text("Đã hoàn tất.", timeout=30_000)
    await expect(status).to_have_count(1)  # one status message, edited in place
    await expect(status).to_contain_text("Đã nhận 5, đã chặn 0, lỗi 0, đã hủy 0.")
    report = page.locator("#messages .msg.proactive", has_text="Báo cáo gửi thông báo #1")
    await expect(report.locator("a")).to_have_count(1, timeout=20_000)  # the Excel workbook
    await shoot(page, "4-admin-announcement")

    await page.click('[data-persona="citizen"]')
    copy = page.locator("#messages .msg.proactive", has_text="giả danh công an")
    await expect(copy).to_have_count(1)
    await expect(copy.locator('[data-choice="sub:stop"]')).to_be_visible()
    await expect(page.locator("#messages .msg.proactive img")).to_have_count(1)
