"""Human handoff end to end in real Chromium: a VIP complains in the widget, an agent takes over
in the console, replies, hands back to the bot, and the client's CSAT score is stored.

Everything is real: the demo bot trained from this repository (NLU, sentiment, handoff
triggers, knowledge base), the app served by uvicorn, demo-mode sign-in, the widget's
signed identity for the VIP (the demo page's "chat as" picker), and the console's own JS.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect

from bot.engine import Engine
from bot.events import CsatRecorded, CsatRequested, HandoffStatusChanged
from bot.settings import Settings
from concierge.compose import Services
from console.app import create_app
from console.security.demo import DEMO_PASSWORD
from tests.bot.channels.helpers import serving
from tests.console.workspace_support import (
    COMPLAINT,
    VIP_NAME,
    demo_services,
    demo_settings,
    events_of,
    offline,
    say,
    session_id,
    train_demo,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b> help me'
REPLY = "Aleksandra, I'm so sorry about your nails. I've booked a free repair for tomorrow at 10:00."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_demo(tmp_path_factory.getbasetemp())


@pytest.fixture
def settings(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "workspace_chroma")
    return demo_settings(model_dir, tmp_path, demo=True, widget_secret="demo-widget-secret")


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with demo_services(settings) as built:
        yield built


@pytest.fixture
def engine(services: Services) -> Engine:
    return services.engine


@pytest.fixture
async def base_url(services: Services, settings: Settings) -> AsyncIterator[str]:
    app: FastAPI = create_app(settings, services=services)
    async with serving(app) as url:  # the lifespan creates the demo accounts
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


async def new_page(browser: Browser, width: int = 1280, height: int = 860) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (its own cookies) whose script errors are collected."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


async def sign_in(page: Page, base_url: str, username: str) -> None:
    await page.goto(f"{base_url}/console/login?next=/console/workspace")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/console/workspace"))
    await expect(page.locator("#connection")).to_have_text("Live")


def queue_items(page: Page) -> Locator:
    return page.locator("#queue-list .ws-item")


async def test_a_vip_complaint_goes_to_an_agent_and_back_with_csat(
    base_url: str, browser: Browser, engine: Engine
) -> None:
    client_context, client = await new_page(browser)
    agent_context, agent = await new_page(browser)
    try:
        # the client: logged in on the website as Aleksandra (VIP), complains in the widget
        await client.goto(base_url)
        await client.get_by_role("button", name=f"{VIP_NAME} (VIP)").click()
        await expect(client.locator("#chat-as-status")).to_contain_text(
            VIP_NAME
        )  # the site signed who she is
        await expect(client.get_by_role("dialog", name="Chat with Mariia Hub")).to_be_visible()
        box = client.get_by_label("Your message")
        await box.fill(COMPLAINT)
        await box.press("Enter")
        bot_lines = client.locator("#concierge-widget .cw-log .cw-bot .cw-text")
        await expect(bot_lines.last).to_contain_text("Aleksandra", timeout=20_000)
        bot_count = await bot_lines.count()
        session = await client.evaluate("localStorage.getItem('concierge.session')")
        cid = f"widget:{session}"

        # the agent: signs in; the complaint is at the top of the queue with its reason and SLA clock
        await sign_in(agent, base_url, "anna.kowalska")
        top = queue_items(agent).first
        await expect(top).to_contain_text(VIP_NAME)
        await expect(top.locator(".tier")).to_have_text("VIP")
        await expect(top).to_contain_text("Reason: vip complaint")
        await expect(top.locator(".sla")).to_have_text(re.compile(r"^\d+ s left$"))
        await expect(top).to_contain_text("Mood: negative")
        first_clock = await top.locator(".sla").inner_text()
        await expect(top.locator(".sla")).not_to_have_text(first_clock, timeout=3_000)  # it ticks
        await top.click()
        await expect(agent.locator("#conv-title")).to_have_text(VIP_NAME)
        await expect(agent.locator("#packet-reason")).to_contain_text("vip complaint")
        await expect(agent.locator("#packet-summary")).to_contain_text("Aleksandra Wiśniewska (VIP")
        await expect(agent.locator("#client-tier-reason")).not_to_be_empty()
        await expect(agent.locator("#transcript .ws-client .ws-text").first).to_have_text(COMPLAINT)
        await expect(agent.locator("#kb-passages li").first).to_be_visible(timeout=15_000)

        # claims and replies; the client's widget shows the reply
        await agent.get_by_role("button", name="Claim").click()
        await expect(agent.locator("#conv-status")).to_have_text("With an agent: you")
        reply_box = agent.get_by_label("Reply to the client")
        await expect(reply_box).to_be_focused()
        await reply_box.fill(REPLY)
        await reply_box.press("Enter")
        await expect(agent.locator("#delivery")).to_have_text("Sent.")
        await expect(client.locator("#concierge-widget .cw-agent .cw-text").last).to_have_text(
            REPLY, timeout=10_000
        )

        # the client answers: the agent sees it live, the bot says nothing
        await box.fill("Thank you, tomorrow at 10 is perfect")
        await box.press("Enter")
        await expect(agent.locator("#transcript .ws-client .ws-text").last).to_have_text(
            "Thank you, tomorrow at 10 is perfect", timeout=10_000
        )
        await client.wait_for_timeout(1_000)
        assert await bot_lines.count() == bot_count  # the bot stayed silent while Anna had it

        # back to the bot; the widget asks for CSAT, the client taps 5
        await agent.get_by_role("button", name="Return to bot").click()
        await expect(agent.locator("#conv-status")).to_have_text("With the bot")
        await expect(bot_lines.last).to_contain_text("How happy are you with the help", timeout=10_000)
        await (
            client.get_by_role("group", name="Suggested replies")
            .get_by_role("button", name="5 Excellent")
            .click()
        )
        await expect(bot_lines.last).to_have_text(
            "Thank you for your feedback! It helps us look after you better."
        )

        events = await events_of(engine, cid)
        moves = [(e.from_status, e.to_status, e.actor) for e in events if isinstance(e, HandoffStatusChanged)]
        assert moves[0][:2] == ("bot", "queued")
        assert moves[-2:] == [("queued", "assigned", "anna.kowalska"), ("assigned", "bot", "anna.kowalska")]
        assert [(e.agent_id) for e in events if isinstance(e, CsatRequested)] == ["anna.kowalska"]
        assert [(e.score, e.agent_id) for e in events if isinstance(e, CsatRecorded)] == [
            (5, "anna.kowalska")
        ]
        await expect(agent.locator("#transcript .ws-event .ws-text").last).to_have_text(
            "CSAT: 5/5", timeout=10_000
        )
        assert client.errors == [] and agent.errors == []  # type: ignore[attr-defined]
    finally:
        await client_context.close()
        await agent_context.close()


async def test_a_client_message_with_html_shows_as_text_in_the_console(
    base_url: str, browser: Browser, engine: Engine
) -> None:
    sender = session_id()
    await say(engine, sender, "I want to talk to a person please")
    await say(engine, sender, HOSTILE)  # stored while the conversation waits for a person
    context, agent = await new_page(browser)
    try:
        await sign_in(agent, base_url, "anna.kowalska")
        item = queue_items(agent).filter(has_text="help me").first
        await expect(item.locator(".ws-item-last")).to_have_text(HOSTILE)
        # an anonymous visitor is "Visitor 1f2e", not the raw id "widget:1f2e..."
        await expect(item.locator(".ws-item-name")).to_have_text(f"Visitor {sender[:4]}")
        await item.click()
        await expect(agent.locator("#conv-title")).to_have_text(f"Visitor {sender[:4]}")
        lines = agent.locator("#transcript .ws-client .ws-text")
        await expect(lines.last).to_have_text(HOSTILE)
        await agent.get_by_role("button", name="Claim").click()
        await agent.get_by_label("Internal note").fill(HOSTILE)
        await agent.get_by_role("button", name="Add note").click()
        await expect(agent.locator("#transcript .ws-note .ws-text")).to_have_text(HOSTILE)
        page_markup = agent.locator("#main")
        assert await page_markup.locator("script, b, img").count() == 0
        assert await agent.evaluate("window.__pwned") is None
        assert agent.errors == []  # type: ignore[attr-defined]
    finally:
        await context.close()


CONTRAST = """
(selectors) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return selectors.map((sel) => {
    const node = document.querySelector(sel);
    if (!node) return [sel, 0];
    const a = lum(rgb(getComputedStyle(node).color)), b = lum(background(node));
    return [sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}
"""


async def test_the_workspace_works_from_the_keyboard_on_a_tablet_with_aa_contrast(
    base_url: str, browser: Browser, engine: Engine
) -> None:
    await say(engine, session_id(), COMPLAINT, email="ola.wisniewska@example.pl")
    await say(engine, session_id(), "I want to talk to a person please")
    context, agent = await new_page(browser, width=768, height=1024)
    try:
        await sign_in(agent, base_url, "anna.kowalska")
        await expect(queue_items(agent)).to_have_count(2)
        assert await agent.evaluate("document.documentElement.scrollWidth") <= 768  # no sideways scrolling

        await agent.keyboard.press("q")  # to the queue, down, back up, open
        await expect(queue_items(agent).first).to_be_focused()
        await agent.keyboard.press("ArrowDown")
        await expect(queue_items(agent).nth(1)).to_be_focused()
        await agent.keyboard.press("ArrowUp")
        await agent.keyboard.press("Enter")
        await expect(agent.locator("#conv-title")).to_have_text(VIP_NAME)
        claim = agent.get_by_role("button", name="Claim")
        await expect(claim).to_be_focused()
        await agent.keyboard.press("Enter")
        reply_box = agent.get_by_label("Reply to the client")
        await expect(reply_box).to_be_focused()
        await agent.keyboard.type("One moment please")
        await agent.keyboard.press("Enter")
        await expect(agent.locator("#transcript .ws-agent .ws-text").last).to_have_text("One moment please")
        await agent.keyboard.press("Escape")  # out of the text box, back to the open one in the queue
        open_item = agent.locator("#queue-list .ws-item.is-open")
        await expect(open_item).to_be_focused()
        await expect(open_item).to_contain_text("with Anna Kowalska")  # now held, listed after those waiting
        await agent.keyboard.press("n")
        await expect(agent.get_by_label("Internal note")).to_be_focused()
        await agent.keyboard.press("Escape")
        await agent.keyboard.press("k")
        await expect(agent.get_by_label("Search the knowledge base")).to_be_focused()

        for selector in ("#conv-body", "#queue-list", "#transcript"):
            box = await agent.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 768, selector
        await expect(agent.locator("#canned-list .ws-canned-button").first).to_be_visible()
        ratios = await agent.evaluate(
            CONTRAST,
            [
                "#queue-list .ws-item .tier",
                "#queue-list .ws-item .sla",
                "#queue-list .ws-item-reason",
                "#queue-list .ws-item-meta",
                "#queue-list .mood",
                "#transcript .ws-client .ws-text",
                "#transcript .ws-agent .ws-text",
                "#transcript .ws-event",
                "#transcript .ws-time",
                "#conv-tier",
                "#conv-status",
                "#act-resolve",
                "#act-return",
                "#connection",
                ".ws-canned-text",
                "#packet-summary",
                "#client-tier-reason",
                "#queue-count",
            ],
        )
        assert all(ratio >= 4.5 for _, ratio in ratios), ratios
        assert agent.errors == []  # type: ignore[attr-defined]
    finally:
        await context.close()
