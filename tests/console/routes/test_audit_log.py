"""The audit log API: newest first, filtered by who, action, target and time."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from console.security.models import Role
from console.security.platform import ConsolePlatform
from tests.console.conftest import client_for, sign_in

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def test_filters(console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]) -> None:
    log = platform.audit
    await log.record("root", "user.create", "user:anna", {"role": "agent"}, at=T0)
    await log.record("ewa", "knowledge.publish", "article:gift-cards", at=T0 + dt.timedelta(days=1))
    await log.record(
        "ewa", "knowledge.publish_refused", "article:lateness-policy", at=T0 + dt.timedelta(days=2)
    )
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])

        async def actions(**params: str) -> list[str]:
            response = await client.get("/api/audit", params={"until": "2026-03-10T00:00:00", **params})
            assert response.status_code == 200
            return [e["action"] for e in response.json()["entries"]]

        assert await actions() == ["knowledge.publish_refused", "knowledge.publish", "user.create"]
        assert await actions(actor="EWA") == ["knowledge.publish_refused", "knowledge.publish"]
        assert await actions(action="knowledge.publish") == ["knowledge.publish"]
        assert await actions(action="knowledge.*") == ["knowledge.publish_refused", "knowledge.publish"]
        assert await actions(target="lateness") == ["knowledge.publish_refused"]
        assert await actions(since="2026-03-02T00:00:00Z") == [
            "knowledge.publish_refused",
            "knowledge.publish",
        ]
        page = (
            await client.get("/api/audit", params={"limit": 1, "offset": 1, "until": "2026-03-10"})
        ).json()
        assert page["total"] == 3 and [e["action"] for e in page["entries"]] == ["knowledge.publish"]
        assert (await client.get("/api/audit", params={"limit": 0})).status_code == 422
        html = await client.get("/console/audit")
        assert html.status_code == 200 and "Audit log" in html.text
