"""The console in real Chromium: sign in with the keyboard, edit an article in the knowledge
editor, get the publish refused by a golden question (listed on the page), sign out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from console.security.models import Role
from console.security.platform import ConsolePlatform
from knowledge.editor import EditorService
from knowledge.gaps import gap_event, register_gap_projection
from tests.console.conftest import PASSWORD, served

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.is_file():  # a missing browser is a failure, never a skip
        pytest.fail(f"chromium not found at {CHROMIUM}; scripts/setup installs it")
    return CHROMIUM


@pytest.fixture
async def page(chromium: Path) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 820, "height": 1100})  # a tablet
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page
            # expected: the wrong password's 401 and the refused publish's 409; nothing else
            assert not [e for e in errors if "401" not in e and "409" not in e], errors
        finally:
            await browser.close()


async def tab_to(page: Page, selector: str, limit: int = 10) -> int:
    """Press Tab until ``selector`` has the focus; returns how many presses it took."""
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return presses
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sign_in_edit_publish_refused_by_golden_question_sign_out(
    console_app: FastAPI, role_users: dict[Role, str], kb_editor: EditorService, page: Page
) -> None:
    async with served(console_app) as url:
        await page.goto(f"{url}/console/knowledge")
        await expect(page).to_have_url(f"{url}/console/login?next=/console/knowledge")
        # keyboard only: the login form is reachable and submits with Enter
        await page.locator("body").focus()
        await tab_to(page, "#username")
        await page.keyboard.type(role_users["editor"])
        await tab_to(page, "#password", limit=2)
        await page.keyboard.type("not the password")
        await page.keyboard.press("Enter")
        await expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{url}/console/knowledge")
        await expect(page.locator(".whoami-name")).to_have_text("Ewa")
        await expect(page.locator(".role-badge")).to_have_text("editor")
        nav = page.get_by_role("navigation", name="Console sections")
        await expect(nav.get_by_role("link")).to_have_text(
            ["Knowledge"]
        )  # editors see only what they may use

        row = page.locator("#articles tbody tr", has=page.locator("code", has_text="lateness-policy"))
        await expect(row.locator(".status")).to_have_text("published")
        await row.get_by_role("link").click()
        await expect(page.locator("#f-title")).not_to_have_value("")
        await page.locator("#f-title").fill("Bicycle racks")
        await page.locator("#f-tags").fill("bicycle")
        await page.locator("#f-answer").fill("Bicycle racks are outside.")
        await page.locator("#f-body").fill("Bicycle racks are <b>outside</b>.")
        await page.locator("#f-note").fill("moved to bikes")
        await page.get_by_role("button", name="Save new version").click()
        await expect(page.locator("#status")).to_have_text("Saved as version 2 (not live until published).")
        await expect(page.locator("#versions tbody tr")).to_have_count(2)

        await page.get_by_role("button", name="Publish latest").click()
        refusal = page.locator("#refusal")
        await expect(refusal).to_be_visible()
        await expect(refusal.locator("tbody")).to_contain_text("what happens if I'm 15 minutes late?")
        await expect(page.locator("#state-live")).to_have_text("1")  # the live version did not change
        await expect(page.locator("#state-status")).to_have_text("published")

        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{url}/console/login")
        await page.goto(f"{url}/console/knowledge")
        await expect(page).to_have_url(f"{url}/console/login?next=/console/knowledge")
    record = await kb_editor.repository.get("lateness-policy")
    assert (record.latest_version, record.published_version) == (2, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_editor_adds_a_golden_question_from_the_gaps_list(
    console_app: FastAPI,
    platform: ConsolePlatform,
    role_users: dict[Role, str],
    kb_editor: EditorService,
    page: Page,
) -> None:
    # four clients asked the same thing in three wordings, as the knowledge action records it
    await register_gap_projection(platform.store)
    for n, question in enumerate(
        [
            "Do you have a swimming pool?",
            "is there a pool I can swim in?",
            "swimming pool price",
            "do you have a swimming pool?",
        ]
    ):
        await platform.store.append(
            f"widget:t{n}", [gap_event(question, "en", "no_answer", 0.1, "knowledge base: nothing retrieved")]
        )
    async with served(console_app) as url:
        await page.goto(f"{url}/console/login?next=/console/knowledge/gaps")
        await page.locator("#username").fill(role_users["editor"])
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{url}/console/knowledge/gaps")
        row = page.locator("#gaps tbody tr")
        await expect(row).to_have_count(1)
        await expect(row.locator("td").nth(1)).to_have_text("4")
        await expect(row.locator("td").nth(4)).to_contain_text("is there a pool I can swim in?")
        await row.get_by_role("button", name="Add as golden question").click()
        await expect(page.locator("#golden-question")).to_have_text("do you have a swimming pool?")
        await page.get_by_role("button", name="Add golden question").click()  # empty: must not be answered
        await expect(page.locator("#status")).to_have_text("Added as a golden question: it passes today.")
    stored = [q for q in await kb_editor.golden.all() if q.question == "do you have a swimming pool?"]
    assert [(q.language, q.expect) for q in stored] == [("en", [])]
