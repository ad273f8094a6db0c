"""The Clients page in real Chromium, on the running demo bot (its clients from data/clients.csv):
a manager searches, opens a profile, ends a manual VIP flag and is refused an unknown concierge;
imports a CSV whose client name is HTML (shown as text); an agent reads but sees no controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from concierge.compose import Services
from console.app import create_app
from console.audit import AuditFilter
from console.security.platform import ConsolePlatform
from handoff.runtime import HandoffRuntime
from tests.console.conftest import PASSWORD, add_user, served
from tests.console.workspace_support import demo_settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE = "<img src=x onerror=alert(1)>"
IMPORT_HEADER = "external_id,first_name,last_name,email,language,home_location\n"
GOOD_CSV = (
    IMPORT_HEADER
    + f"T-0001,{HOSTILE},Testowa,hostile.testowa@example.com,pl,mokotow\n"
    + ",Hannah,Brooks,hannah.brooks@example.com,en,wilanow\n"
)
BAD_CSV = IMPORT_HEADER + "T-0002,Ala,Nowa,ala.nowa@example.com,pl,mokotow\n,Ola,Stara,,pl,mokotow\n"


@pytest.fixture
def runtime(services: Services) -> HandoffRuntime:
    assert services.handoff is not None
    return services.handoff


@pytest.fixture
async def platform(app: FastAPI) -> ConsolePlatform:
    return await app.state.console.ready()  # type: ignore[no-any-return]


@pytest.fixture
async def app(services: Services, model_dir: Path, tmp_path: Path) -> AsyncIterator[FastAPI]:
    built = create_app(demo_settings(model_dir, tmp_path), services=services)
    platform: ConsolePlatform = await built.state.console.ready()
    await add_user(platform, "kasia", "manager")
    await add_user(platform, "anna.kowalska", "agent", agent_id="anna.kowalska")
    try:
        yield built
    finally:
        await built.state.console.close()


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
            dialogs: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: dialogs.append(d.message))
            yield page
            # expected: the refused changes' 422s (unknown concierge, bad CSV); nothing else
            assert not [e for e in errors if "422" not in e], errors
            assert not dialogs, dialogs  # no script from client data ever ran
        finally:
            await browser.close()


async def sign_in(page: Page, url: str, username: str) -> None:
    """Sign in through the login page and land on the Clients page."""
    await page.goto(f"{url}/console/clients")
    await expect(page).to_have_url(f"{url}/console/login?next=/console/clients")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{url}/console/clients")


async def test_a_manager_ends_a_manual_vip_flag_and_is_refused_an_unknown_concierge(
    app: FastAPI, platform: ConsolePlatform, runtime: HandoffRuntime, page: Page
) -> None:
    ids, _ = await runtime.clients.search("whitfield", limit=5, offset=0)
    assert len(ids) == 1
    before = await runtime.clients.get(ids[0])
    assert (before.tier, before.tier_override) == ("VIP", "VIP")
    _, everyone = await runtime.clients.search("", limit=1, offset=0)
    async with served(app) as url:
        await sign_in(page, url, "kasia")
        await expect(page.locator("#c-range")).to_have_text(f"1–{min(everyone, 50)} of {everyone}")
        await expect(page.locator("#c-prev")).to_be_disabled()

        await page.get_by_label("Search clients").fill("whitfield")  # debounced: no button press
        rows = page.locator("#client-table tbody tr")
        await expect(rows).to_have_count(1)
        await expect(page.locator("#c-range")).to_have_text("1–1 of 1")
        await expect(page.locator("#status")).to_have_text("1 client matches.")
        await expect(rows.locator(".tier")).to_have_text("VIP")
        await expect(rows.locator(".tier-reason")).to_have_text(before.tier_reason)
        await expect(rows).to_contain_text("j.whitfield@example.co.uk")
        await expect(rows).to_contain_text("piotr.wisniewski")

        await rows.get_by_role("link", name="James Whitfield").click()
        name = page.locator("#p-name")
        await expect(name).to_have_text("James Whitfield")
        await expect(name).to_be_focused()  # keyboard users land on the profile
        await expect(page.locator("#p-override")).to_have_text("VIP")
        await expect(page.locator("#p-identities")).to_contain_text("j.whitfield@example.co.uk")
        await expect(page.locator("#p-preferences")).to_contain_text("early morning")
        await expect(page.locator("#p-notes")).to_contain_text("Knee surgery 2025")
        await expect(page.locator("#p-recent tbody tr")).to_have_count(len(before.recent_visits))
        await expect(page.locator("#e-override")).to_have_value("VIP")

        await page.get_by_label("Tier override").select_option(label="none (computed)")
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.locator("#edit-status")).to_contain_text("Saved.")
        after = await runtime.clients.get(before.id)
        assert after.tier_override is None and after.tier != "VIP"  # the computed tier, from the API
        await expect(page.locator("#p-tier .tier")).to_have_text(after.tier)
        await expect(page.locator("#p-tier .tier-reason")).to_have_text(after.tier_reason)
        await expect(page.locator("#p-override")).to_have_text("none (computed)")
        await expect(rows.locator(".tier")).to_have_text(after.tier)  # the list was refreshed
        entries, total = await platform.audit.entries(AuditFilter(action="client.*"))
        assert total == 1
        assert (entries[0].action, entries[0].actor, entries[0].target) == (
            "client.update",
            "kasia",
            f"client:{before.id}",
        )
        assert entries[0].detail == {"tier_override": {"from": "VIP", "to": None}}

        await page.get_by_label("Named concierge (agent id)").fill("nobody.here")
        await page.get_by_role("button", name="Save changes").click()
        edit_status = page.locator("#edit-status")
        await expect(edit_status).to_have_text("no agent 'nobody.here' in data/agents.yml")
        await expect(edit_status).to_have_class("error")
        await expect(page.locator("#p-concierge")).to_have_text("piotr.wisniewski")
    unchanged = await runtime.clients.get(before.id)
    assert unchanged.concierge_agent_id == "piotr.wisniewski" and unchanged.tier == after.tier
    assert (await platform.audit.entries(AuditFilter(action="client.*")))[1] == 1


async def test_a_manager_imports_a_csv_and_a_name_made_of_html_shows_as_text(
    app: FastAPI, platform: ConsolePlatform, runtime: HandoffRuntime, page: Page
) -> None:
    _, before = await runtime.clients.search("", limit=1, offset=0)
    async with served(app) as url:
        await sign_in(page, url, "kasia")
        result = page.locator("#import-result")
        upload = page.get_by_label("CSV file")

        await upload.set_input_files({"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()})
        await page.get_by_role("button", name="Import").click()
        await expect(result).to_contain_text("Line 3")  # the error names the bad line
        await expect(result).to_contain_text("row has neither an identity nor an external_id")
        await expect(result).to_have_class("error")
        assert (await runtime.clients.search("", limit=1, offset=0))[1] == before  # nothing written

        await upload.set_input_files({"name": "new.csv", "mimeType": "text/csv", "buffer": GOOD_CSV.encode()})
        await page.get_by_role("button", name="Import").click()
        await expect(result).to_have_text(
            "Imported 2 rows into 2 clients; 0 rows merged into another row's client."
        )
        await expect(result).to_have_class("notice")
        await expect(page.locator("#c-range")).to_have_text(f"1–{before + 1} of {before + 1}")

        await page.get_by_label("Search clients").fill("testowa")
        rows = page.locator("#client-table tbody tr")
        await expect(rows).to_have_count(1)
        link = rows.get_by_role("link")
        await expect(link).to_have_text(f"{HOSTILE} Testowa")
        await link.click()
        await expect(page.locator("#p-name")).to_have_text(f"{HOSTILE} Testowa")
        await expect(page.locator("#p-location")).to_have_text("mokotow")
        assert await page.locator("#clients img").count() == 0  # text, not an element
    ids, _ = await runtime.clients.search("testowa", limit=5, offset=0)
    assert (await runtime.clients.get(ids[0])).first_name == HOSTILE
    entries, _ = await platform.audit.entries(AuditFilter(action="client.*"))
    assert [(e.action, e.detail["rows"]) for e in entries] == [("client.import", 2)]


async def test_an_agent_reads_clients_but_has_no_edit_controls(app: FastAPI, page: Page) -> None:
    async with served(app) as url:
        await sign_in(page, url, "anna.kowalska")
        rows = page.locator("#client-table tbody tr")
        await expect(rows.first).to_be_visible()
        assert await rows.count() > 1
        await page.get_by_label("Search clients").fill("MH-0001")
        await expect(rows).to_have_count(1)
        await rows.get_by_role("link", name="Aleksandra Wiśniewska").click()
        await expect(page.locator("#p-name")).to_have_text("Aleksandra Wiśniewska")
        await expect(page.locator("#p-membership")).to_have_text("black")
        await expect(page.locator("#p-tier .tier")).to_have_text("VIP")
        for control in ("#edit-form", "#identity-form", "#import-form", "input[type=file]"):
            assert await page.locator(control).count() == 0, control
        assert await page.locator("#profile button, #profile select").count() == 0
