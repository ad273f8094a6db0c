"""The analytics API's downloads and drill-down filters over a known day: one report table
as CSV, the drill-down's CSV, the filters each chart and figure uses, ROI in the report."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi import FastAPI

from console.security.models import Role
from console.security.platform import ConsolePlatform
from handoff.projections import register_handoff_projections
from tests.console.conftest import client_for, sign_in
from tests.console.services.analytics_log import write_day

RANGE = {"start": "2026-04-10", "end": "2026-04-10"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tables_drill_down_filters_and_roi(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    await register_handoff_projections(platform.store)
    await write_day(platform.store)
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])

        tiers = await client.get("/api/analytics/report/tier.csv", params=RANGE)
        assert tiers.status_code == 200 and tiers.headers["content-type"].startswith("text/csv")
        assert 'filename="tier-2026-04-10-2026-04-10.csv"' in tiers.headers["content-disposition"]
        rows = {r["key"]: r for r in csv.DictReader(io.StringIO(tiers.text))}
        assert (rows["VIP"]["volume"], rows["VIP"]["within_sla"], rows["VIP"]["outcome_resolved"]) == (
            "2",
            "2",
            "1",
        )
        assert rows["Standard"]["outcome_contained"] == "4"
        reasons = list(
            csv.DictReader(
                io.StringIO((await client.get("/api/analytics/report/reasons.csv", params=RANGE)).text)
            )
        )
        assert {r["label"]: r["count"] for r in reasons}["Rule: VIP complaint"] == "2"
        assert (await client.get("/api/analytics/report/nope.csv", params=RANGE)).status_code == 422

        async def ids(**filters: str) -> list[str]:
            found = await client.get("/api/analytics/conversations", params={**RANGE, **filters})
            assert found.status_code == 200, found.text
            return sorted(r["conversation_id"] for r in found.json())

        assert await ids(within_sla="true") == ["widget:reopen", "widget:vip"]
        assert await ids(tier="Standard", handed_off="true") == ["telegram:1002", "widget:waiting"]
        assert await ids(resolution="true", channel="telegram") == ["telegram:1001"]
        assert len(await ids(first_contact="true")) == 5  # 4 contained less the late one, + 2 resolved
        assert await ids(csat="true") == ["widget:rated", "widget:vip"]
        assert len(await ids(rated="true")) == 13

        exported = await client.get(
            "/api/analytics/conversations", params={**RANGE, "outcome": "assisted", "format": "csv"}
        )
        assert sorted(r["conversation_id"] for r in csv.DictReader(io.StringIO(exported.text))) == [
            "telegram:1002",
            "widget:reopen",
            "widget:waiting",
        ]

        report = (await client.get("/api/analytics/report", params=RANGE)).json()
        assert report["business_hours"] is True
        assert (report["roi"]["contained"], report["roi"]["hours_saved"], report["roi"]["net_saving"]) == (
            4,
            0.4,
            18.8,  # 4 x 6 min x 60 PLN/h = 24.00 - 13 x 0.40
        )
        assert [p["key"] for p in report["breakdowns"]["period"]] == ["2026-04-10"]
        assert report["breakdowns"]["period"][0]["outcomes"]["contained"] == 4


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_conversations_quality_scores(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    await register_handoff_projections(platform.store)
    await write_day(platform.store)
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])
        scored = await client.get("/api/analytics/conversations/widget:vip/quality")
        assert scored.status_code == 200, scored.text
        body = scored.json()
        agent = {c["category"]: (c["score"], c["reason"]) for c in body["agent"]["categories"]}
        # "Anna here": no greeting word, no closing, no next step; the client complained
        # ("complaint" intent, but the words "a question" are not upset): empathy does not apply
        assert body["agent"]["replies"] == 1
        assert agent["greeting"] == (0.0, "the first reply has no greeting")
        assert agent["empathy"] == (None, "the client was not upset")
        assert agent["solution_offered"][0] == 0.0
        assert body["bot"]["replies"] == 0 and body["bot"]["overall"] is None
        missing = await client.get("/api/analytics/conversations/widget:nobody/quality")
        assert missing.status_code == 404
