"""The demo in a real browser: a citizen's tip, an officer's check-in, the supervisor's view.

Headless Debian Chromium (``/usr/bin/chromium``; ``.ci/run`` installs it) driven
by Playwright, against the demo (:func:`bot.demo.running_demo`) served on
127.0.0.1 over the seeded test database. Screenshots go to ``tests/artifacts/``;
with ``ANTT_DOCS_SCREENSHOT=1`` the supervisor's screen also becomes
``docs/emulator.png`` (the README's picture).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.demo import Demo, running_demo
from bot.demo_seed import DEMO_START, seed
from db.session import Database, UnitOfWork
from tests.e2e.test_emulator_api import tiny_png

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_SHOT = ROOT / "docs" / "emulator.png"
# As the machine's probe runs it: no sandbox as root, and no calls to Google's services.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)

if CHROMIUM.exists():
    from playwright.async_api import Page, async_playwright, expect


@pytest.fixture
async def demo(db: Database, tmp_path: Path) -> AsyncIterator[Demo]:
    settings = Settings(data_dir=tmp_path, web_port=0)
    async with UnitOfWork(db) as uow:
        await seed(uow.session, settings)
        await uow.commit()
    async with running_demo(settings, db, start=DEMO_START) as running:
        yield running


@pytest.fixture
async def page(demo: Demo) -> AsyncIterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
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


async def settled(page: Page) -> None:
    """Wait until the bot has answered everything this persona sent."""
    await expect(page.locator("#typing")).to_be_hidden()


async def press(page: Page, choice: str) -> None:
    """Press the newest button with this choice id, and wait for the answer."""
    await page.locator(f'#messages [data-choice="{choice}"]').last.click()
    await settled(page)


async def say(page: Page, text: str) -> None:
    await page.fill("#composer-text", text)
    await page.press("#composer-text", "Enter")
    await settled(page)


async def upload(page: Page, name: str, png: bytes) -> None:
    await page.set_input_files(
        "#file-input", files=[{"name": name, "mimeType": "image/png", "buffer": png}]
    )
    await settled(page)


async def last_bot_message(page: Page, contains: str) -> None:
    await expect(page.locator("#messages .msg.bot").last).to_contain_text(contains)


async def shoot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"emulator-{name}.png"
    await page.screenshot(path=str(path))
    return path


async def citizen_sends_a_tip(page: Page) -> None:
    await page.click('[data-persona="citizen"]')
    await page.click("#start-button")
    await settled(page)
    await press(page, "m:tip")
    await press(page, "tip:cat:fire")
    await say(page, "Một hộ dân ở xóm 2 chứa nhiều can xăng trong nhà để bán lẻ.")
    await last_bot_message(page, "tối đa 10")
    await upload(page, "hien-truong.png", tiny_png(8, 6))
    await expect(page.locator("#messages .msg.user img").last).to_be_visible()
    await last_bot_message(page, "1 tệp")
    await press(page, "tip:done")
    await page.click("#request-location")  # the location request opens the commune picker
    await expect(page.locator("#picker")).to_be_visible()
    await page.fill("#picker-filter", "nam giang")
    await page.click('#picker-list [data-unit="nam-giang"]')
    await settled(page)
    await expect(page.locator("#messages .msg.user.kind-location").last).to_contain_text(
        "Xã Nam Giang"
    )
    await press(page, "tip:skip")
    await press(page, "tip:anon")
    await last_bot_message(page, "Nguy cơ cháy nổ")
    await press(page, "tip:send")
    await expect(page.locator("#messages")).to_contain_text("Mã tra cứu của bạn")
    await shoot(page, "1-citizen-tip")


async def officer_checks_in(page: Page) -> None:
    await page.click('[data-persona="officer"]')
    # The new tip reached the commune's officer through the outbox, live.
    notice = page.locator("#messages .msg.proactive", has_text="Nguy cơ cháy nổ")
    await expect(notice).to_be_visible(timeout=15_000)
    await page.click("#menu-button")
    await settled(page)
    await press(page, "m:tasks")
    task = page.locator("#messages [data-choice^='ck:a:']", has_text="Lắp đặt camera").last
    assignment = (await task.get_attribute("data-choice") or "").rsplit(":", 1)[-1]
    await task.click()
    await settled(page)
    await last_bot_message(page, "Kết quả mới nhất: 8/20")
    await press(page, f"ck:n:{assignment}")
    await say(page, "15")
    await say(page, "Xóm 4 và xóm 5 đã lắp xong camera.")
    await upload(page, "camera.png", tiny_png(6, 6))
    await last_bot_message(page, "15/20")
    await press(page, "ci:save")
    await expect(page.locator("#messages")).to_contain_text("Đã lưu báo cáo tiến độ")
    await shoot(page, "2-officer-checkin")


async def supervisor_sees_both(page: Page, demo: Demo) -> None:
    await page.click('[data-persona="supervisor"]')
    await page.click("#start-button")
    await settled(page)
    await press(page, "m:progress")
    await expect(page.locator("#messages")).to_contain_text("Nam Đàn")
    # The next morning the daily digest arrives on its own, its chart first.
    await page.click("#next-day")
    await expect(page.locator("#clock-value")).to_contain_text("06/05/2025")
    digest = page.locator("#messages .msg.proactive")
    chart = digest.filter(has_text="Huyện Nam Đàn").filter(has=page.locator("img"))
    await expect(chart).to_have_count(1, timeout=20_000)
    image = chart.locator("img")
    await expect(image).to_have_attribute("src", re.compile(r"^/api/images/[0-9a-f]{64}$"))
    await image.scroll_into_view_if_needed()
    loaded = "img => img.complete && img.naturalWidth > 0"
    await page.wait_for_function(loaded, arg=await image.element_handle())
    # The text follows the chart (the sender paces a chat at one message a second).
    body = digest.filter(has_text="Xã Nam Giang · Lắp đặt camera")
    await expect(body).to_have_count(1, timeout=20_000)
    await expect(body).to_contain_text("Nguy cơ cháy nổ: 1")  # the citizen's tip
    await expect(body).to_contain_text(re.compile(r"Xã Nam Giang · Lắp đặt camera[^\n]*: 15/20"))
    await expect(page.locator("#toast")).to_be_hidden()
    await chart.evaluate("node => node.scrollIntoView({block: 'start'})")
    await shoot(page, "3-supervisor-digest")


async def test_tip_and_checkin_reach_the_supervisor(page: Page, demo: Demo) -> None:
    await expect(page.locator("#connection")).to_have_class("connection live")
    await citizen_sends_a_tip(page)
    await officer_checks_in(page)
    await supervisor_sees_both(page, demo)
    shot = await shoot(page, "final")
    if os.environ.get("ANTT_DOCS_SCREENSHOT") == "1":
        DOCS_SHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)


async def test_language_switch_changes_labels_and_the_bot(page: Page, demo: Demo) -> None:
    await page.click('[data-persona="admin"]')
    await expect(page.locator("#next-day")).to_contain_text("Sang ngày tiếp theo")
    await page.click('[data-lang="en"]')
    await expect(page.locator("#next-day")).to_contain_text("Next day")
    await expect(page.locator("#chat-role")).to_contain_text("Province administrator")
    await page.click("#start-button")
    await settled(page)
    await last_bot_message(page, "What would you like to do?")
    await page.reload()  # the chat comes back from the server, the language stays
    await expect(page.locator("#messages")).to_contain_text("What would you like to do?")
    await expect(page.locator("#next-day")).to_contain_text("Next day")
