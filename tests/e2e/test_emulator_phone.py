"""The demo tour on a phone-sized screen (360 × 740) in a real browser: the chat and its
Send button fit, and the first message of each supervisor answer (progress, the tip
inbox, the daily digest) is at most 1,000 characters. Skipped without Chromium, as the
other browser test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.demo import Demo
from tests.e2e.test_emulator_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    citizen_sends_a_tip,
    demo,  # noqa: F401  (the fixture)
    press,
    say,
    settled,
    shoot,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)

if CHROMIUM.exists():
    from playwright.async_api import Page, async_playwright, expect

WIDTH, HEIGHT = 360, 740
SCREEN = 1000


@pytest.fixture
async def phone(demo: Demo) -> AsyncIterator[Page]:  # noqa: F811
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": WIDTH, "height": HEIGHT}, locale="vi-VN", is_mobile=True
            )
            tab = await context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            await tab.goto(demo.url)
            yield tab
            assert errors == [], errors
        finally:
            await browser.close()


async def fits(page: Page, selector: str) -> None:
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (selector, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, (selector, box)


async def bot_count(page: Page) -> int:
    return await page.locator("#messages .msg.bot").count()


async def first_answer(page: Page, before: int) -> str:
    """The text of the first bot message after the ``before`` ones, once it is there."""
    answer = page.locator("#messages .msg.bot").nth(before)
    await expect(answer).to_be_visible(timeout=20_000)
    text = await answer.locator(".text").inner_text()
    assert len(text) <= SCREEN, (len(text), text)
    return text


async def test_the_tour_on_a_phone(phone: Page, demo: Demo) -> None:  # noqa: F811
    page = phone
    await expect(page.locator("#connection")).to_have_class("connection live")
    # The chat takes the width: the composer and its Send button are on screen.
    for selector in (
        "#composer-send",
        "#composer-text",
        "#next-day",
        "#jump-july",
        '[data-persona="admin"]',
        '[data-lang="en"]',
    ):
        await fits(page, selector)
    chat = await page.locator("#messages").bounding_box()
    assert chat is not None and chat["width"] >= WIDTH - 1

    await citizen_sends_a_tip(page)
    await fits(page, "#composer-send")

    await page.click('[data-persona="supervisor"]')
    await page.click("#start-button")
    await settled(page)
    before = await bot_count(page)
    await press(page, "m:progress")
    assert "Tiến độ: Huyện Nam Đàn" in await first_answer(page, before)

    before = await bot_count(page)
    await say(page, "/tips")
    assert "Hộp tin báo" in await first_answer(page, before)

    # The next morning's digest (after the night's escalations): its first message is the
    # summary under the chart.
    await page.click("#next-day")
    digest = page.locator("#messages .msg.proactive", has_text="Bản tin hằng ngày")
    await expect(digest.first).to_be_visible(timeout=20_000)
    await expect(digest.first.locator("img")).to_be_visible()
    summary = await digest.first.locator(".text").inner_text()
    assert summary.startswith("📋 Bản tin hằng ngày: Huyện Nam Đàn")
    assert len(summary) <= SCREEN, (len(summary), summary)
    await fits(page, "#composer-send")
    await shoot(page, "phone-digest")
