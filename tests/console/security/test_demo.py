"""Demo accounts exist only in demo mode, and the demo password is logged at start-up."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI

from bot.settings import Settings
from console.app import create_app
from console.security.demo import DEMO_PASSWORD
from tests.console.conftest import client_for, sign_in


async def test_demo_mode_creates_one_account_per_agent_plus_staff(
    console_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(console_settings.model_copy(update={"demo": True}))
    try:
        with caplog.at_level(logging.WARNING, logger="console.security.demo"):
            await app.state.console.start()
            await app.state.console.start()  # a restart keeps the accounts, creates nothing twice
        users = {u.username: u for u in await app.state.console.accounts.list()}
        assert {"anna.kowalska", "olena.shevchenko", "editor", "manager", "admin"} <= set(users)
        assert users["anna.kowalska"].role == "agent" and users["anna.kowalska"].agent_id == "anna.kowalska"
        assert (users["editor"].role, users["manager"].role, users["admin"].role) == (
            "editor",
            "manager",
            "admin",
        )
        assert DEMO_PASSWORD in caplog.text and "DEMO MODE" in caplog.text
        async with client_for(app) as client:
            await sign_in(client, "manager", DEMO_PASSWORD)
            assert (await client.get("/api/analytics/report")).status_code == 200
    finally:
        await app.state.console.close()


async def test_production_mode_creates_no_accounts(
    console_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await console_app.state.console.start()
    assert await console_app.state.console.accounts.count() == 0
    assert DEMO_PASSWORD not in caplog.text
