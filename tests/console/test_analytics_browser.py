"""The analytics page in real Chromium over a seeded log with known answers: the charts'
rendered values (trend by outcome, SLA attainment by tier, outcome mix), a drill-down click
from a chart bar to the conversations behind it, and the CSV downloads (the drill-down's
conversations and one report table)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from console.security.models import Role
from console.security.platform import ConsolePlatform
from console.services.analytics.models import DateRange
from console.services.analytics.quality import CATEGORIES, quality_table
from handoff.projections import register_handoff_projections
from tests.console.conftest import PASSWORD, served
from tests.console.services.analytics_log import DAY_S, T, write_day, write_flood
from tests.console.test_console_browser import CHROMIUM_ARGS, chromium  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser

RANGE = "start=2026-04-09&end=2026-04-11"


@pytest.fixture
async def page(chromium: Path) -> AsyncIterator[Page]:  # noqa: F811
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 1200}, accept_downloads=True
            )
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page
            assert not errors, errors
        finally:
            await browser.close()


async def download_text(page: Page, link: str) -> str:
    """Click ``link`` and return the downloaded file's text."""
    async with page.expect_download() as info:
        await page.locator(link).click()
    download = await info.value
    path = await download.path()
    return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_charts_drill_down_and_csv_downloads_on_a_known_log(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str], page: Page
) -> None:
    await register_handoff_projections(platform.store)
    await write_day(platform.store)  # 13 rated conversations on 2026-04-10
    await write_flood(platform.store, 3, at=T + DAY_S)  # 3 greeting-only on 2026-04-11
    async with served(console_app) as url:
        await page.goto(f"{url}/console/analytics?{RANGE}")
        await page.locator("#username").fill(role_users["manager"])
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.locator("#status")).to_have_text("From 2026-04-09 to 2026-04-11, by day.")

        # the headline: 4 of 13 rated contained, the greetings excluded
        await expect(page.locator("#m-volume")).to_have_text("16")
        await expect(page.locator("#m-containment")).to_have_text("31%")
        await expect(page.locator("#m-resolution")).to_have_text("46%")
        await expect(page.locator("#m-handoffs")).to_have_text("5")

        # auto-QA by agent: a row per speaker with resolved conversations (the read model's means)
        expected = await quality_table(
            platform.store, DateRange(start=date(2026, 4, 9), end=date(2026, 4, 11))
        )
        assert [q.key for q in expected] == ["anna", "olena"]  # the agents of the resolved conversations
        quality_rows = page.locator("#quality-agents tbody tr")
        await expect(quality_rows).to_have_count(len(expected))
        shown = await quality_rows.evaluate_all(
            "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent))"
        )
        for cells, row in zip(shown, expected, strict=True):
            assert cells[:2] == ["Bot" if row.speaker == "bot" else row.key, str(row.conversations)]
            for text, value in zip(
                cells[2:], [row.overall, *(row.categories[c] for c in CATEGORIES)], strict=True
            ):
                assert text == "–" if value is None else abs(float(text) - value) < 0.006, (text, value)

        # the trend: one bar per day, empty days included, stacked by outcome
        bars = page.locator("#chart-trend g.bar")
        await expect(bars).to_have_count(3)
        assert await bars.evaluate_all("bs => bs.map(b => [b.dataset.key, b.dataset.total])") == [
            ["2026-04-09", "0"],
            ["2026-04-10", "13"],
            ["2026-04-11", "3"],
        ]
        day = page.locator('#chart-trend g.bar[data-key="2026-04-10"]')
        await expect(day.locator("text.bar-total")).to_have_text("13")
        segments = await day.locator("rect.segment").evaluate_all(
            "rs => Object.fromEntries(rs.map(r => [r.dataset.segment, Number(r.dataset.value)]))"
        )
        assert segments == {"contained": 4, "resolved": 2, "assisted": 3, "unresolved": 3, "abandoned": 1}
        await expect(
            page.locator(
                '#chart-trend g.bar[data-key="2026-04-11"] rect.segment[data-segment="greeting_only"]'
            )
        ).to_have_attribute("data-value", "3")

        # SLA attainment by tier: both VIP handoffs within 60 s; the Premium reply that arrived
        # came at 200 s (the failed send does not count); no Standard reply was delivered
        sla = page.locator("#chart-sla g.hbar")
        assert await sla.evaluate_all("gs => gs.map(g => [g.dataset.key, g.dataset.value])") == [
            ["VIP", "1"],
            ["Premium", "0"],
            ["Standard", "0"],
        ]
        await expect(page.locator('#chart-sla g.hbar[data-key="VIP"] text.value-label')).to_have_text(
            "100% (2 of 2)"
        )
        await expect(page.locator('#chart-sla g.hbar[data-key="Standard"] text.value-label')).to_have_text(
            "0% (0 of 2)"
        )

        # the outcome mix, with each share of the rated conversations
        mix = page.locator("#chart-outcomes g.hbar")
        assert await mix.evaluate_all("gs => gs.map(g => [g.dataset.key, g.dataset.value])") == [
            ["contained", "4"],
            ["resolved", "2"],
            ["assisted", "3"],
            ["unresolved", "3"],
            ["abandoned", "1"],
            ["greeting_only", "3"],
        ]
        await expect(
            page.locator('#chart-outcomes g.hbar[data-key="contained"] text.value-label')
        ).to_have_text("4 (31%)")

        # drill down: the contained part of the 10 April bar lists exactly those four
        await day.locator('rect.segment[data-segment="contained"]').click()
        await expect(page.locator("#drill-title")).to_have_text(
            "Conversations: 2026-04-10, contained by the bot"
        )
        await expect(page.locator("#drill-count")).to_have_text("4 conversations.")
        ids = await page.locator("#drill-rows tbody tr td:first-child").all_text_contents()
        assert sorted(ids) == ["widget:faq1", "widget:faq2", "widget:late", "widget:rated"]

        # ... and downloads them as CSV, one row per conversation with its facts
        exported = list(csv.DictReader(io.StringIO(await download_text(page, "#drill-download"))))
        assert sorted(r["conversation_id"] for r in exported) == sorted(ids)
        assert {r["outcome"] for r in exported} == {"contained"}
        assert {r["conversation_id"]: r["confirmed"] for r in exported}["widget:faq2"] == "yes"

        # a conversation of the list opens its quality scores (rules only): "We open at 8."
        # has no greeting, closing or concrete next step; the rest holds: 4 of 7 categories
        await page.get_by_role("button", name="Quality of widget:faq2").click()
        await expect(page.locator("#quality-title")).to_have_text(
            "Quality of widget:faq2: bot 0.57, people –"
        )
        solution = page.locator("#quality-rows tbody tr", has_text="solution offered")
        await expect(solution).to_contain_text("no concrete answer or next step")

        # the SLA bar of a tier opens its handoffs
        await page.locator('#chart-sla g.hbar[data-key="Premium"]').click()
        await expect(page.locator("#drill-count")).to_have_text("1 conversation.")
        await expect(page.locator("#drill-rows tbody tr")).to_contain_text("telegram:1001")
        await expect(page.locator("#drill-rows tbody tr")).to_contain_text("3.3 min")

        # one report table as CSV: first response by tier
        table = {
            r["tier"]: r
            for r in csv.DictReader(
                io.StringIO(await download_text(page, '#frt-title ~ a.download[data-table="first_response"]'))
            )
        }
        assert (table["VIP"]["handoffs"], table["VIP"]["within_sla"], table["VIP"]["median_seconds"]) == (
            "2",
            "2",
            "20",
        )
        assert (table["Premium"]["median_seconds"], table["Premium"]["within_sla_rate"]) == ("200", "0")

        # by week: one bar holding all sixteen
        await page.locator("#r-grouping").select_option("week")
        await page.get_by_role("button", name="Show").click()
        await expect(page.locator("#status")).to_have_text("From 2026-04-09 to 2026-04-11, by week.")
        await expect(page.locator("#chart-trend g.bar")).to_have_count(1)
        await expect(page.locator('#chart-trend g.bar[data-key="2026-W15"] text.bar-total')).to_have_text(
            "16"
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_roi_staffing_and_report_subscriptions_on_the_page(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str], page: Page
) -> None:
    await register_handoff_projections(platform.store)
    await write_day(platform.store)
    await write_flood(platform.store, 3, at=T + DAY_S)
    async with served(console_app) as url:
        await page.goto(f"{url}/console/analytics?{RANGE}")
        await page.locator("#username").fill(role_users["manager"])
        await page.locator("#password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.locator("#status")).to_have_text("From 2026-04-09 to 2026-04-11, by day.")

        # ROI with handoff.yml's costs: 4 contained x 6 min = 0.4 h x 60 PLN = 24.00;
        # 16 conversations x 0.40 = 6.40; net 17.60
        await expect(page.locator("#roi-hours")).to_have_text("0.40 h")
        await expect(page.locator("#roi-net")).to_have_text("17.60 PLN")
        await expect(page.locator("#roi-formula")).to_contain_text(
            "hours saved = 4 contained × 6 min ÷ 60 = 0.40 h; gross saving = 0.40 h × 60.00 PLN = 24.00 PLN; "
            "bot cost = 16 conversations × 0.40 PLN = 6.40 PLN; net saving = 17.60 PLN."
        )

        # staffing beside the roster: no history in the last weeks, so nobody is needed
        await expect(page.locator("#st-roster")).to_have_text("8 agents, 32 chat slots")
        await expect(page.locator("#st-peak")).to_have_text("0")
        await expect(page.locator("#chart-staffing g.staff-hour")).to_have_count(168)

        # subscribe to the weekly report, then remove it
        await page.locator("#s-email").fill("kasia@mariia-hub.test")
        await page.get_by_role("button", name="Subscribe").click()
        await expect(page.locator("#subs-status")).to_have_text("Subscribed kasia@mariia-hub.test (weekly).")
        row = page.locator("#subs tbody tr", has_text="kasia@mariia-hub.test")
        await expect(row).to_contain_text("weekly")
        await expect(row).to_contain_text("not yet")
        await row.get_by_role("button", name="Remove the weekly report to kasia@mariia-hub.test").click()
        await expect(page.locator("#subs-status")).to_have_text("Removed.")
        await expect(page.locator("#subs tbody")).to_have_text("Nobody gets a report yet.")
