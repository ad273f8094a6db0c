"""The admin privacy API: a client's JSON archive, and erasure confirmed in the body; audited."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi import FastAPI

from bot.settings import Settings
from console.audit import AuditFilter
from console.security.models import Role
from console.security.platform import ConsolePlatform
from tests.console.conftest import client_for, sign_in
from tests.privacy.seed import seed_person


async def test_an_admin_exports_then_erases_a_client(
    console_app: FastAPI,
    platform: ConsolePlatform,
    role_users: dict[Role, str],
    console_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = console_settings.resolved_state_dir() / "attachments"
    bookings = f"sqlite:///{console_settings.resolved_state_dir() / 'bookings.db'}"
    monkeypatch.setenv("CONCIERGE_BOOKINGS_URL", bookings)  # the demo actions' database, this test's own
    person = await seed_person(
        platform.store,
        files,
        phone="+48 601 234 567",
        email="ottilie.q@example.org",
        first="Ottilie",
        last="Quennell",
        handle="ottilie_q",
        numeric="555000111",
        bookings_url=bookings,
    )
    phone = quote("+48 601 234 567", safe="")
    async with client_for(console_app) as manager:
        await sign_in(manager, role_users["manager"])
        assert (await manager.get(f"/api/privacy/clients/{phone}/export")).status_code == 403
    async with client_for(console_app) as admin:
        csrf = await sign_in(admin, role_users["admin"])
        exported = await admin.get(f"/api/privacy/clients/{phone}/export")
        assert exported.status_code == 200, exported.text
        assert exported.headers["cache-control"] == "no-store"
        assert exported.headers["content-disposition"].startswith("attachment;")
        archive = exported.json()
        assert archive["format"] == "concierge.privacy.export/1"
        assert archive["subject"]["client_id"] == person.client_id
        assert person.email in exported.text and "Quennell" in exported.text

        erase = f"/api/privacy/clients/{person.client_id}/erase"
        headers = {"X-CSRF-Token": csrf}
        refused = await admin.post(erase, json={"confirm": "someone-else"}, headers=headers)
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_request"
        assert (await admin.post(erase, json={}, headers=headers)).status_code == 422
        done = await admin.post(erase, json={"confirm": person.client_id}, headers=headers)
        assert done.status_code == 200, done.text
        report = done.json()
        assert report["subject"] == f"client:{person.client_id}"
        assert report["conversations"] == len(person.conversations)
        assert report["removed"]["bookings"] == 1
        assert person.attachment is not None and not person.attachment.exists()

        gone = await admin.get(f"/api/privacy/clients/{quote(person.email)}/export")
        assert gone.status_code == 404 and gone.json()["error"] == "not_found"
        assert (
            await admin.post(erase, json={"confirm": person.client_id}, headers=headers)
        ).status_code == 404

    entries, _ = await platform.audit.entries(AuditFilter(action="privacy.*"))
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("privacy.erase", role_users["admin"], f"client:{person.client_id}"),
        ("privacy.export", role_users["admin"], f"client:{person.client_id}"),
    ]
