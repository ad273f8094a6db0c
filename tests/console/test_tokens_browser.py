"""API tokens in real Chromium: an admin makes a token on the users page, sees it once,
another system uses it, the admin revokes it and the system is refused at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from console.security.models import Role
from tests.console.conftest import PASSWORD, served
from tests.console.test_console_browser import CHROMIUM_ARGS, chromium  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(chromium: object) -> AsyncIterator[Page]:  # noqa: F811
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(viewport={"width": 1200, "height": 1100})).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page
            assert not errors, errors
        finally:
            await browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_admin_makes_a_token_sees_it_once_and_revokes_it(
    console_app: FastAPI, role_users: dict[Role, str], page: Page
) -> None:
    async with served(console_app) as url, httpx.AsyncClient(base_url=url) as system:
        await page.goto(f"{url}/console/users")
        await page.locator("#username").fill(role_users["admin"])
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{url}/console/users")
        await expect(page.locator("#tokens-status")).to_have_text("No API tokens yet.")

        await page.locator("#t-name").fill("bi tool")
        await page.get_by_role("checkbox", name="audit:read").check()
        await page.locator("#t-days").fill("30")
        await page.get_by_role("button", name="Make token").click()
        await expect(page.locator("#token-secret")).to_be_visible()
        secret = await page.locator("#token-value").input_value()
        assert secret.startswith("cct_")
        row = page.locator("#tokens tbody tr", has_text="bi tool")
        await expect(row).to_contain_text("audit:read")
        await expect(row).to_contain_text("active")
        await expect(row.locator("code")).to_have_text(secret[:10] + "…")

        used = await system.get("/api/audit", headers={"Authorization": f"Bearer {secret}"})
        assert used.status_code == 200, used.text

        await page.get_by_role("button", name="I have copied it").click()
        await expect(page.locator("#token-secret")).to_be_hidden()
        assert await page.locator("#token-value").input_value() == ""
        await page.reload()
        assert secret not in await page.content()

        page.on("dialog", lambda dialog: dialog.accept())
        await (
            page.locator("#tokens tbody tr", has_text="bi tool").get_by_role("button", name="Revoke").click()
        )
        await expect(page.locator("#tokens-status")).to_have_text("Revoked bi tool.")
        await expect(page.locator("#tokens tbody tr", has_text="bi tool")).to_contain_text("revoked")
        refused = await system.get("/api/audit", headers={"Authorization": f"Bearer {secret}"})
        assert refused.status_code == 401
