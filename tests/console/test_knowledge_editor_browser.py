"""The knowledge editor in real Chromium at tablet sizes: edit an article, see the Markdown
preview (markup that must not run stays text) and the diff against the live version, publish,
roll back to the version that was live before; nothing is clipped at 768 or 1024 px."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright, expect

from console.audit import AuditFilter
from console.security.models import Role
from console.security.platform import ConsolePlatform
from knowledge.editor import EditorService
from tests.console.conftest import PASSWORD, served

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PORTRAIT = {"width": 768, "height": 1024}
LANDSCAPE = {"width": 1024, "height": 768}
#: ms a publish or rollback may take: both run every golden question against the index twice
#: (embeddings on the CPU), which on a loaded two-core machine can outlast Playwright's default
#: 5 s (test_handoff_browser gives its server-heavy steps 10-20 s)
GATED = 30_000

ADDED = (
    "**Gift wrapping** is free at every reception.\n\n"
    '<script>window.injected = 1</script> <img src=x onerror="window.injected = 2">\n\n'
    "[pay here](javascript:window.injected=3) or [in the shop](https://mariia.example/shop)"
)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.is_file():  # a missing browser is a failure, never a skip
        pytest.fail(f"chromium not found at {CHROMIUM}; scripts/setup installs it")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def tablet_page(browser: Browser, viewport: dict[str, int], errors: list[str]) -> Page:
    context = await browser.new_context(viewport=viewport, has_touch=True, is_mobile=False)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
    return page


async def sign_in(page: Page, url: str, username: str, target: str) -> None:
    await page.goto(f"{url}/console/login?next={target}")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{url}{target}")


async def assert_fits(page: Page) -> None:
    """No sideways scrolling, and every panel and button of the editor inside the viewport."""
    width = await page.evaluate("() => document.documentElement.clientWidth")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
    outside = await page.evaluate(
        """(width) => Array.from(document.querySelectorAll('#knowledge .panel, #knowledge button'))
             .filter((n) => n.offsetParent !== null)
             .map((n) => [n.id || n.textContent.trim().slice(0, 30), n.getBoundingClientRect()])
             .filter(([, r]) => r.left < 0 || r.right > width + 0.5)
             .map(([name, r]) => `${name}: ${r.left}-${r.right}`)""",
        width,
    )
    assert outside == [], outside
    # each Roll back button lies wholly inside its panel (it used to be clipped off it)
    clipped = await page.evaluate(
        """() => { const panel = document.getElementById('versions-panel').getBoundingClientRect();
             return Array.from(document.querySelectorAll('#versions button'))
               .map((b) => [b.textContent, b.getBoundingClientRect()])
               .filter(([, r]) => r.left < panel.left || r.right > panel.right)
               .map(([t]) => t); }"""
    )
    assert clipped == [], clipped


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_edit_preview_diff_publish_and_roll_back_on_a_tablet(
    console_app: FastAPI,
    platform: ConsolePlatform,
    role_users: dict[Role, str],
    kb_editor: EditorService,
    browser: Browser,
) -> None:
    errors: list[str] = []
    target = "/console/knowledge/articles/gift-cards"
    async with served(console_app) as url:
        page = await tablet_page(browser, PORTRAIT, errors)
        await sign_in(page, url, role_users["editor"], target)
        await expect(page.locator("#state-live")).to_have_text("1")
        await expect(page.locator("#diff-summary")).to_have_text(
            "Version 1 says the same as live version 1: nothing to publish."
        )
        original = await page.locator("#f-body").input_value()
        await expect(page.locator("#preview-body h2").first).to_be_visible()  # the body's "## ..." headings

        # ---- edit: the preview follows the form, and markup that could run is only text
        await page.locator("#f-body").fill(original + "\n\n" + ADDED)
        preview = page.locator("#preview-body")
        await expect(preview.locator("strong", has_text="Gift wrapping")).to_be_visible()
        await expect(preview).to_contain_text("<script>window.injected = 1</script>")
        await expect(preview).to_contain_text('<img src=x onerror="window.injected = 2">')
        await expect(preview.locator("a", has_text="in the shop")).to_have_attribute(
            "href", "https://mariia.example/shop"
        )
        await expect(preview).to_contain_text("[pay here](javascript:window.injected=3)")
        assert await preview.locator("script, img, [onerror], a[href^='javascript']").count() == 0
        assert await page.evaluate("() => window.injected") is None

        await page.locator("#f-note").fill("gift wrapping")
        await page.get_by_role("button", name="Save new version").click()
        await expect(page.locator("#status")).to_have_text("Saved as version 2 (not live until published).")

        # ---- the diff: version 2 against live version 1, the added words marked as added
        await expect(page.locator("#diff-summary")).to_have_text(
            "Version 2 against live version 1: 1 field changed."
        )
        body_diff = page.locator('#diff .diff-field[data-field="body"]')
        await expect(body_diff.locator("h3")).to_have_text("Body")
        await expect(body_diff.locator(".diff-insert", has_text="**Gift wrapping** is free")).to_be_visible()
        await expect(
            body_diff.locator(".diff-insert .diff-text", has_text="<script>window.injected = 1</script>")
        ).to_have_count(1)
        assert await page.locator("#diff script, #diff img").count() == 0
        # a draft is not offered as a rollback target; the live version 1 is
        await expect(page.locator("#versions tbody tr")).to_have_count(2)
        await expect(page.locator("#versions tbody tr").first).to_contain_text("never (draft)")
        assert await page.get_by_role("button", name="Roll back to 2").count() == 0
        await expect(page.get_by_role("button", name="Roll back to 1")).to_be_visible()
        await assert_fits(page)

        # ---- publish: the golden questions pass, version 2 is live, nothing left to publish
        await page.get_by_role("button", name="Publish latest").click()
        await expect(page.locator("#status")).to_have_text("Published version 2.", timeout=GATED)
        await expect(page.locator("#state-live")).to_have_text("2")
        await expect(page.locator("#diff-summary")).to_have_text(
            "Version 2 says the same as live version 2: nothing to publish."
        )
        await expect(page.locator("#versions tbody tr").first.locator(".status")).to_have_text("live")

        # ---- landscape: the same page holds at 1024 px
        await page.set_viewport_size(LANDSCAPE)
        await assert_fits(page)

        # ---- roll back to version 1: it comes back as version 3 and goes live
        await page.get_by_role("button", name="Roll back to 1").click()
        await expect(page.locator("#status")).to_have_text(
            "Rolled back to version 1: saved as version 3, live now.", timeout=GATED
        )
        await expect(page.locator("#state-live")).to_have_text("3")
        await expect(page.locator("#state-latest")).to_have_text("3")
        await expect(page.locator("#f-body")).to_have_value(original)
        await expect(preview.locator("strong", has_text="Gift wrapping")).to_have_count(0)
        await expect(page.locator("#versions tbody tr")).to_have_count(3)
        await expect(page.locator("#versions tbody tr").first).to_contain_text("rollback to version 1")
        await assert_fits(page)
        await page.context.close()

    record = await kb_editor.repository.get("gift-cards")
    assert (record.latest_version, record.published_version) == (3, 3)
    assert (await kb_editor.repository.version("gift-cards", 3)).article.body == original
    entries, _ = await platform.audit.entries(AuditFilter(action="knowledge.*", limit=3))
    assert [(e.action, e.detail) for e in entries] == [
        ("knowledge.rollback", {"to_version": 1, "version": 3, "live": True}),
        ("knowledge.publish", {"version": 2}),
        ("knowledge.edit", {"note": "gift wrapping", "version": 2}),
    ]
    assert errors == []
