"""The console's queue in real Chromium shows a rule's priority and ranks by it: a
conversation a rule marked urgent is first, with its badge, ahead of one queued earlier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import insert

from automation.tables import conversation_labels
from bot.settings import Settings
from concierge.compose import Services
from console.app import create_app
from tests.bot.channels.helpers import serving
from tests.console.test_handoff_browser import CHROMIUM, CHROMIUM_ARGS, new_page, queue_items, sign_in
from tests.console.workspace_support import demo_services, demo_settings, offline, train_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_demo(tmp_path_factory.getbasetemp())


@pytest.fixture
def settings(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "queue_priority_chroma")
    return demo_settings(model_dir, tmp_path, demo=True)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with demo_services(settings) as built:
        yield built


@pytest.fixture
async def base_url(services: Services, settings: Settings) -> AsyncIterator[str]:
    async with serving(create_app(settings, services=services)) as url:  # lifespan: demo accounts
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.is_file():  # a missing browser is a failure, never a skip
        pytest.fail(f"chromium not found at {CHROMIUM}; scripts/setup installs it")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


EARLY = "widget:aaaa1111"
MARKED = "widget:bbbb2222"


async def test_a_rules_urgent_priority_tops_the_queue_with_its_badge(
    services: Services, base_url: str, browser: Browser
) -> None:
    handoff = services.handoff
    assert handoff is not None
    await handoff.service.request(EARLY, "client_request")  # queued first: first by the handoff priority
    await handoff.service.request(MARKED, "client_request")
    async with services.engine.store.engine.begin() as conn:  # what set_priority: urgent writes
        await conn.execute(
            insert(conversation_labels).values(
                conversation_id=MARKED,
                label="priority",
                value="urgent",
                added_by="automation:test_rule",
                added_at=0.0,
            )
        )
    context, page = await new_page(browser)
    try:
        await sign_in(page, base_url, "anna.kowalska")
        items = queue_items(page)
        await expect(items).to_have_count(2)
        await expect(items.nth(0)).to_have_attribute("data-conversation", MARKED)
        await expect(items.nth(0).locator(".rule-priority")).to_have_text("Urgent")
        await expect(items.nth(1)).to_have_attribute("data-conversation", EARLY)
        await expect(items.nth(1).locator(".rule-priority")).to_have_count(0)
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        await context.close()
