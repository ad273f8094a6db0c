"""The analytics API and page for managers: the report over the real log, range checks."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from bot.events import BotUttered, HandoffRequested, HandoffStatusChanged, UserUttered
from console.security.models import Role
from console.security.platform import ConsolePlatform
from tests.console.conftest import client_for, sign_in

DAY = dt.date(2026, 4, 10)
T = dt.datetime.combine(DAY, dt.time(10), dt.UTC).timestamp()


async def test_report_for_a_range(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    await platform.store.append(
        "widget:vip",
        [
            UserUttered(text="I want to complain", timestamp=T),
            HandoffRequested(reason="rule:vip_complaint", timestamp=T + 1),
            HandoffStatusChanged(
                from_status="bot", to_status="queued", actor="bot", metadata={"tier": "VIP"}, timestamp=T + 1
            ),
            BotUttered(text="Anna here", metadata={"sender": "agent", "agent_id": "anna"}, timestamp=T + 46),
        ],
    )
    await platform.store.append("widget:faq", [UserUttered(text="hours?", timestamp=T + 5)])
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])
        report = await client.get(
            "/api/analytics/report", params={"start": "2026-04-10", "end": "2026-04-10"}
        )
        assert report.status_code == 200
        body = report.json()
        assert body["containment"] == {"conversations": 2, "contained": 1, "rate": 0.5}
        vip = next(t for t in body["first_response"] if t["tier"] == "VIP")
        assert (vip["median_seconds"], vip["within_sla_rate"], vip["sla_seconds"]) == (45.0, 1.0, 60)
        assert body["handoff_reasons"] == [{"reason": "rule:vip_complaint", "count": 1}]
        other_day = await client.get(
            "/api/analytics/report", params={"start": "2026-04-11", "end": "2026-04-12"}
        )
        assert other_day.json()["containment"]["conversations"] == 0
        default = await client.get("/api/analytics/report")
        assert (
            default.status_code == 200
            and default.json()["range"]["end"] == dt.datetime.now(dt.UTC).date().isoformat()
        )
        backwards = await client.get(
            "/api/analytics/report", params={"start": "2026-04-12", "end": "2026-04-10"}
        )
        assert backwards.status_code == 422 and backwards.json()["message"] == "start must not be after end"
        too_long = await client.get(
            "/api/analytics/report", params={"start": "2024-01-01", "end": "2026-04-10"}
        )
        assert too_long.status_code == 422
        assert (await client.get("/api/analytics/report", params={"start": "yesterday"})).status_code == 422
        assert (await client.get("/api/analytics/gaps")).json() == []  # no knowledge base in this app
        page = await client.get("/console/analytics")
        assert page.status_code == 200 and 'src="/static/console-analytics.js"' in page.text
