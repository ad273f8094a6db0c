"""The chat widget on the demo page, driven in real Chromium like a visitor would use it.

The page talks to the real engine on a small trained bot (tests/bot/channels/widget_bot).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.engine import Engine
from bot.settings import Settings
from console.app import create_app
from tests.bot.channels.helpers import (
    HOURS,
    WELCOME,
    YOU_ARE_WELCOME,
    agent_says,
    real_engine,
    serving,
    train_widget_bot,
    user_messages,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


@pytest.fixture
async def engine(trained: Settings, tmp_path: Path) -> AsyncIterator[Engine]:
    async with real_engine(trained, tmp_path) as engine:
        yield engine


@pytest.fixture
def app(engine: Engine, trained: Settings) -> FastAPI:
    return create_app(trained, engine=engine)


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.is_file():  # a missing browser is a failure, never a skip
        pytest.fail(f"chromium not found at {CHROMIUM}; scripts/setup installs it")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>'


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))  # type: ignore[attr-defined]
    yield page
    await context.close()


def log_of(page: Page) -> Locator:
    return page.get_by_role("log", name="Conversation")


def bubbles(page: Page, cls: str) -> Locator:
    return page.locator(f"#concierge-widget .cw-log .cw-{cls} .cw-text")


async def open_widget(page: Page) -> None:
    await page.get_by_role("button", name="Open chat with Mariia Hub").click()
    await expect(page.get_by_role("dialog", name="Chat with Mariia Hub")).to_be_visible()


async def say(page: Page, text: str) -> None:
    box = page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")


async def test_a_visitor_chats_with_the_bot(base_url: str, page: Page, engine: Engine) -> None:
    await page.goto(base_url)
    await expect(page.get_by_role("heading", name="Time, beautifully kept.")).to_be_visible()
    await open_widget(page)
    await expect(page.get_by_label("Your message")).to_be_focused()
    await expect(page.locator("#concierge-widget .cw-status")).to_have_text("Online")

    await say(page, "hello")
    await expect(bubbles(page, "bot")).to_have_text([WELCOME])
    await expect(bubbles(page, "client")).to_have_text(["hello"])

    suggestions = page.get_by_role("group", name="Suggested replies")
    await suggestions.get_by_role("button", name="Opening hours").click()
    await expect(bubbles(page, "bot")).to_have_text([WELCOME, HOURS])
    # the quick reply shows its title, not its payload (/ask_hours)
    await expect(bubbles(page, "client")).to_have_text(["hello", "Opening hours"])
    await expect(suggestions).to_be_hidden()

    await say(page, HOSTILE)
    await expect(bubbles(page, "client").last).to_have_text(HOSTILE)
    await expect(bubbles(page, "bot")).to_have_count(3)  # answered, whatever the bot made of it
    assert await log_of(page).locator("script, img, b").count() == 0
    assert await page.evaluate("window.__pwned") is None
    assert page.errors == []  # type: ignore[attr-defined]  # no CSP violations, no script errors
    session = await page.evaluate("localStorage.getItem('concierge.session')")
    stored = await user_messages(engine, f"widget:{session}")
    assert [(m.text, m.intent_name) for m in stored[:2]] == [("hello", "greet"), ("/ask_hours", "ask_hours")]
    assert stored[2].text == HOSTILE


async def test_nothing_is_stored_or_opened_until_the_chat_is_opened(base_url: str, page: Page) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(base_url)
    await expect(page.get_by_role("button", name="Open chat with Mariia Hub")).to_be_visible()
    await page.wait_for_timeout(300)
    assert sockets == []
    assert await page.evaluate("localStorage.getItem('concierge.session')") is None
    await open_widget(page)
    await expect(page.locator("#concierge-widget .cw-status")).to_have_text("Online")
    assert sockets == [base_url.replace("http", "ws", 1) + "/webhooks/widget/ws"]


async def test_a_returning_visitor_sees_an_agent_reply_arrive_while_the_chat_is_closed(
    base_url: str, page: Page, engine: Engine
) -> None:
    await page.goto(base_url)
    await open_widget(page)
    await say(page, "hello")
    await expect(bubbles(page, "bot")).to_have_count(1)
    session = await page.evaluate("localStorage.getItem('concierge.session')")
    await page.reload()  # a later visit: the widget reconnects on its own, closed
    launcher = page.get_by_role("button", name="Open chat with Mariia Hub")
    await expect(launcher).to_be_visible()
    await expect(page.locator("#concierge-widget .cw-status")).to_have_text("Online")  # reconnected
    await agent_says(engine, f"widget:{session}", "Hello again! Your facial is booked for 10:00.")
    await expect(page.get_by_role("button", name="Open chat with Mariia Hub, 1 new message")).to_be_visible()
    await page.get_by_role("button", name="Open chat with Mariia Hub, 1 new message").click()
    await expect(page.locator("#concierge-widget .cw-agent .cw-text")).to_have_text(
        ["Hello again! Your facial is booked for 10:00."]
    )
    await expect(page.locator("#concierge-widget .cw-agent .cw-who")).to_have_text("Mariia Hub team: ")
    await expect(page.locator("#concierge-widget .cw-badge")).to_be_hidden()


async def test_a_reload_shows_the_conversation_once(base_url: str, page: Page) -> None:
    await page.goto(base_url)
    await open_widget(page)
    await say(page, "hello")
    await expect(bubbles(page, "bot")).to_have_count(1)
    await say(page, "thanks")
    await expect(bubbles(page, "bot")).to_have_count(2)

    await page.reload()
    await open_widget(page)
    await expect(page.locator("#concierge-widget .cw-log .cw-msg .cw-text")).to_have_text(
        ["hello", WELCOME, "thanks", YOU_ARE_WELCOME]
    )


async def test_a_message_typed_while_offline_is_sent_once_after_reconnecting(
    app: FastAPI, page: Page, engine: Engine
) -> None:
    async with serving(app) as url:
        await page.goto(url)
        await open_widget(page)
        await say(page, "hello")
        await expect(bubbles(page, "bot")).to_have_count(1)
    # the server is gone: the message waits, marked as sending
    await expect(page.locator("#concierge-widget .cw-status")).to_contain_text("reconnecting")
    await say(page, "thank you so much")
    await expect(page.locator("#concierge-widget .cw-pending")).to_have_count(1)
    await asyncio.sleep(1)
    async with serving(app, port=urlparse(url).port or 0):
        await expect(bubbles(page, "bot")).to_have_text([WELCOME, YOU_ARE_WELCOME], timeout=20_000)
        await expect(page.locator("#concierge-widget .cw-pending")).to_have_count(0)
        await expect(bubbles(page, "client")).to_have_text(["hello", "thank you so much"])
    session = await page.evaluate("localStorage.getItem('concierge.session')")
    stored = await user_messages(engine, f"widget:{session}")
    assert [m.text for m in stored] == ["hello", "thank you so much"]


async def test_the_panel_fills_a_phone_screen(base_url: str, browser: Browser) -> None:
    phone = {"width": 390, "height": 844}
    context = await browser.new_context(viewport=phone, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        await page.goto(base_url)
        launcher = page.get_by_role("button", name="Open chat with Mariia Hub")
        box = await launcher.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
        await launcher.click()
        panel = await page.get_by_role("dialog", name="Chat with Mariia Hub").bounding_box()
        assert panel == {"x": 0, "y": 0, "width": 390, "height": 844}
        send = await page.get_by_role("button", name="Send").bounding_box()
        assert send and send["x"] + send["width"] <= 390 and send["y"] + send["height"] <= 844
        await say(page, "hello")
        await expect(bubbles(page, "bot")).to_have_text([WELCOME])
    finally:
        await context.close()


async def test_the_widget_works_from_the_keyboard(base_url: str, page: Page) -> None:
    await page.goto(base_url)
    launcher = page.locator("#concierge-widget .cw-launcher")  # hidden while the panel is open
    await launcher.focus()
    await page.keyboard.press("Enter")
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    await expect(page.get_by_label("Your message")).to_be_focused()
    await page.keyboard.type("hello")
    await page.keyboard.press("Enter")
    await expect(bubbles(page, "bot")).to_have_text([WELCOME])
    await expect(log_of(page)).to_have_attribute("aria-live", "polite")
    await page.keyboard.press("Shift+Tab")  # back from the text box to the quick reply
    await page.keyboard.press("Enter")
    await expect(bubbles(page, "bot").last).to_have_text(HOURS)
    await page.get_by_label("Your message").focus()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog", name="Chat with Mariia Hub")).to_be_hidden()
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")


CONTRAST = """
(selectors) => {
  const root = document.getElementById('concierge-widget').shadowRoot;
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement || (n.getRootNode() && n.getRootNode().host)) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return selectors.map((sel) => {
    const node = root.querySelector(sel);
    const a = lum(rgb(getComputedStyle(node).color)), b = lum(background(node));
    return [sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}
"""


async def test_text_contrast_meets_wcag_aa(base_url: str, page: Page) -> None:
    await page.goto(base_url)
    await open_widget(page)
    await say(page, "hello")
    await expect(bubbles(page, "bot")).to_have_count(1)
    ratios = await page.evaluate(
        CONTRAST,
        [
            ".cw-bot .cw-text",
            ".cw-client .cw-text",
            ".cw-reply",
            ".cw-send",
            ".cw-title",
            ".cw-status",
            ".cw-input",
        ],
    )
    assert all(ratio >= 4.5 for _, ratio in ratios), ratios
