"""The rules page's API: managers save validated, versioned, audited rules and dry-run them;
agents may not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from fastapi import FastAPI

from bot.settings import Settings
from bot.store import EventStore
from console.app import create_app
from console.audit import AuditFilter
from handoff.runtime import HandoffRuntime
from tests.automation.automation_support import Clock, runtime_on
from tests.automation.test_automation_runner import OPEN, write
from tests.console.conftest import add_user, client_for, sign_in

GOOD = """
rules:
  - id: vip_complaint
    name: VIP complaint
    on: message_received
    if: {tier: [VIP], intent: [complaint]}
    then: [{tag: complaint}]
"""


@dataclass(frozen=True)
class HandoffOnly:
    """The running bot as the rules routes read it: the handoff runtime (its store); no engine."""

    handoff: HandoffRuntime
    engine: Any = None
    knowledge: Any = None


@pytest_asyncio.fixture
async def app(store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path) -> AsyncIterator[FastAPI]:
    url, schema = store_url
    store = EventStore.from_url(url, schema=schema)
    runtime = await runtime_on(store, repo_dir, Clock(OPEN + 3600))
    await write(store, "widget:v1", "VIP", OPEN)
    await write(store, "widget:s1", "Standard", OPEN)
    database = url if schema is None else str(store.engine.url.render_as_string(hide_password=False))
    settings = Settings(project_dir=repo_dir, state_dir=tmp_path / "state", database_url=database)
    application = create_app(settings, services=HandoffOnly(runtime))  # type: ignore[arg-type]
    platform = await application.state.console.ready()
    await add_user(platform, "kasia", "manager")
    await add_user(platform, "anna", "agent", agent_id="anna.kowalska")
    try:
        yield application
    finally:
        await application.state.console.close()
        await store.close()


async def test_a_manager_saves_a_version_and_it_is_audited(app: FastAPI) -> None:
    async with client_for(app) as client:
        csrf = await sign_in(client, "kasia")
        headers = {"X-CSRF-Token": csrf}
        current = (await client.get("/api/automation/rules")).json()
        assert current["version"] == 0 and "vip_complaint_concierge" in current["source"]  # the file

        bad = await client.put(
            "/api/automation/rules", json={"source": "rules: [{id: x}]", "base_version": 0}, headers=headers
        )
        assert bad.status_code == 422
        assert any("rules.0.name" in p for p in bad.json()["detail"]["problems"])

        saved = await client.put(
            "/api/automation/rules",
            json={"source": GOOD, "base_version": 0, "comment": "only the complaint rule"},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["version"] == 1
        stale = await client.put(
            "/api/automation/rules", json={"source": GOOD, "base_version": 0}, headers=headers
        )
        assert stale.status_code == 409  # someone (here: we) saved since version 0 was loaded
        assert (await client.get("/api/automation/rules")).json()["version"] == 1
        assert [v["version"] for v in (await client.get("/api/automation/versions")).json()] == [1, 0]

        report = await client.post("/api/automation/dry-run", json={"days": 7}, headers=headers)
        assert report.status_code == 200, report.text
        (count,) = report.json()["rules"]
        assert (count["rule_id"], count["fired"], count["conversations"]) == ("vip_complaint", 1, 1)

    entries, total = await app.state.console.audit.entries(AuditFilter(action="automation.rules.save"))
    assert total == 1 and entries[0].actor == "kasia" and entries[0].detail["rules"] == ["vip_complaint"]


async def test_agents_may_not_edit_rules(app: FastAPI) -> None:
    async with client_for(app) as client:
        csrf = await sign_in(client, "anna")
        response = await client.put(
            "/api/automation/rules", json={"source": GOOD, "base_version": 0}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 403
        assert (await client.get("/console/automation")).status_code == 403
