"""The client profile API over HTTP, on the running demo bot: search, read, upsert from another
system, change by a manager (reaching the bot's recognition at once), link identities, import
CSV; every change audited, bad input answered with a clear error and nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.engine import Engine
from bot.events import SlotSet
from bot.settings import Settings
from concierge.compose import Services
from console.app import create_app
from console.audit import AuditFilter
from console.security.platform import ConsolePlatform
from tests.console.conftest import add_user, client_for, sign_in
from tests.console.workspace_support import (
    REPO,
    STANDARD_EMAIL,
    demo_settings,
    events_of,
    say,
    session_id,
)

API = "/api/clients"


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


@asynccontextmanager
async def signed_in(app: FastAPI, username: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with client_for(app) as client:
        csrf = await sign_in(client, username)
        yield client, {"X-CSRF-Token": csrf}


async def audit_actions(app: FastAPI) -> list[tuple[str, str, dict[str, object]]]:
    entries, _ = await app.state.console.audit.entries(AuditFilter(action="client.*"))
    return [(e.action, e.target, e.detail) for e in reversed(entries)]


async def slot(engine: Engine, conversation_id: str, name: str, initial: object = None) -> object:
    """The slot's value after the stored events (``initial``: the domain's initial value)."""
    events = await events_of(engine, conversation_id)
    values = [e.value for e in events if isinstance(e, SlotSet) and e.name == name]
    return values[-1] if values else initial


async def test_a_salon_system_upserts_a_client_by_phone_and_external_id(app: FastAPI) -> None:
    new = {
        "external_id": "MH-9001",
        "first_name": "Zofia",
        "last_name": "Lewandowska",
        "language": "pl",
        "identities": [
            {"kind": "phone", "value": "0048 603 111 222"},
            {"kind": "email", "value": "Zofia@Example.PL"},
        ],
        "visits": [
            {"visited_on": "2026-11-02", "category": "nails", "service": "Hybrid manicure", "amount": 240}
        ],
    }
    async with signed_in(app, "kasia") as (client, csrf):
        created = await client.post(API, json=new, headers=csrf)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["created"] is True
        profile = body["client"]
        assert [(i["kind"], i["value"]) for i in profile["identities"]] == [
            ("phone", "+48603111222"),
            ("email", "zofia@example.pl"),
        ]
        assert profile["tier"] == "Standard" and profile["visit_count"] == 1

        # the same client again, found by the phone written another way: updated, not duplicated
        again = await client.post(
            API,
            json={
                "identities": [{"kind": "phone", "value": "603-111-222"}],
                "membership": "black",
                "visits": new["visits"],
            },
            headers=csrf,
        )
        assert again.status_code == 200, again.text
        assert again.json()["created"] is False
        updated = again.json()["client"]
        assert updated["id"] == profile["id"] and updated["visit_count"] == 1  # the visit is not repeated
        assert updated["membership"] == "black" and updated["tier"] == "VIP"
        assert updated["first_name"] == "Zofia"  # left out = kept

        read = await client.get(f"{API}/{profile['id']}")
        assert read.status_code == 200 and read.json()["external_id"] == "MH-9001"
    assert [(a, t) for a, t, _ in await audit_actions(app)] == [
        ("client.create", f"client:{profile['id']}"),
        ("client.update", f"client:{profile['id']}"),
    ]


async def test_search_by_name_phone_and_external_id_with_paging(app: FastAPI) -> None:
    async with signed_in(app, "anna.kowalska") as (client, _):
        by_name = (await client.get(API, params={"q": "wiśniewska"})).json()
        assert [c["name"] for c in by_name["clients"]] == ["Aleksandra Wiśniewska"]
        assert by_name["clients"][0]["tier"] == "VIP"
        by_phone = (await client.get(API, params={"q": "601234567"})).json()
        assert [c["name"] for c in by_phone["clients"]] == ["Aleksandra Wiśniewska"]
        assert (await client.get(API, params={"q": "mh-0013"})).json()["clients"][0][
            "name"
        ] == "Hannah Brooks"
        assert (await client.get(API, params={"q": "hannah brooks"})).json()["total"] == 1
        assert (await client.get(API, params={"q": "nobody at all"})).json() == {"clients": [], "total": 0}
        everyone = (await client.get(API)).json()
        first = (await client.get(API, params={"limit": 2})).json()
        second = (await client.get(API, params={"limit": 2, "offset": 2})).json()
        assert everyone["total"] == first["total"] == len(everyone["clients"]) >= 10
        assert [c["id"] for c in first["clients"] + second["clients"]] == [
            c["id"] for c in everyone["clients"][:4]
        ]
        assert (await client.get(API, params={"limit": 0})).status_code == 422


async def test_a_managers_change_reaches_the_bot_at_once(app: FastAPI, engine: Engine) -> None:
    sender = session_id()
    cid = f"widget:{sender}"
    await say(engine, sender, "hello", email=STANDARD_EMAIL)
    async with signed_in(app, "kasia") as (client, csrf):
        hannah = (await client.get(API, params={"q": "hannah brooks"})).json()["clients"][0]
        assert await slot(engine, cid, "client_id") == hannah["id"]  # recognised (and cached)
        assert await slot(engine, cid, "tier", initial="Standard") == "Standard"
        changed = await client.patch(
            f"{API}/{hannah['id']}",
            json={"tier_override": "VIP", "concierge_agent_id": "anna.kowalska"},
            headers=csrf,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["tier"] == "VIP" and changed.json()["concierge_agent_id"] == "anna.kowalska"
        await say(engine, sender, "are you open on Sunday?", email=STANDARD_EMAIL)
        assert (
            await slot(engine, cid, "tier", initial="Standard") == "VIP"
        )  # no wait for the recognition cache

        cleared = await client.patch(f"{API}/{hannah['id']}", json={"tier_override": None}, headers=csrf)
        assert cleared.json()["tier"] == "Standard" and cleared.json()["tier_override"] is None
        assert cleared.json()["concierge_agent_id"] == "anna.kowalska"  # not sent = kept
    changes = [d for a, _, d in await audit_actions(app) if a == "client.update"]
    assert changes == [
        {
            "tier_override": {"from": None, "to": "VIP"},
            "concierge_agent_id": {"from": None, "to": "anna.kowalska"},
        },
        {"tier_override": {"from": "VIP", "to": None}},
    ]


async def test_linking_an_identity_of_another_client_merges_them(app: FastAPI) -> None:
    async with signed_in(app, "kasia") as (client, csrf):
        stray = (
            await client.post(
                API, json={"identities": [{"kind": "telegram", "value": "@hannah_b"}]}, headers=csrf
            )
        ).json()["client"]
        hannah = (await client.get(API, params={"q": "hannah brooks"})).json()["clients"][0]
        linked = await client.post(
            f"{API}/{hannah['id']}/identities", json={"kind": "telegram", "value": "hannah_b"}, headers=csrf
        )
        assert linked.status_code == 200, linked.text
        survivor = linked.json()
        assert "telegram:hannah_b" in [f"{i['kind']}:{i['value']}" for i in survivor["identities"]]
        # the stray profile now resolves to the survivor, and the list no longer shows it
        assert (await client.get(f"{API}/{stray['id']}")).json()["id"] == survivor["id"]
        assert (await client.get(API, params={"q": "hannah_b"})).json()["total"] == 1
    link = [d for a, _, d in await audit_actions(app) if a == "client.link"]
    assert link == [{"identity": "telegram", "merged": True}]  # never the handle itself
    # the merge itself is audited by the client store, in the merge's own transaction
    merges, _ = await app.state.console.audit.entries(AuditFilter(action="client.merge"))
    assert [(e.actor, e.target, e.detail) for e in merges] == [
        (
            "kasia",
            f"client:{survivor['id']}",
            {"absorbed": stray["id"], "cause": "link", "shared": "telegram"},
        )
    ]


async def test_import_a_csv_body_all_or_nothing(app: FastAPI) -> None:
    header = "external_id,first_name,last_name,phones,email,concierge\n"
    good = header + "MH-9100,Iga,Nowicka,+48 604 555 666,,\nMH-9101,Ewa,Kot,,ewa.kot@example.pl,marta.nowak\n"
    bad = header + "MH-9200,Ola,Fine,,,\nMH-9201,Ola,Bad,12,,\n"  # the first row alone would be imported
    async with signed_in(app, "kasia") as (client, csrf):
        before = (await client.get(API)).json()["total"]
        refused = await client.post(
            f"{API}/import", content=bad.encode(), headers={**csrf, "Content-Type": "text/csv"}
        )
        assert refused.status_code == 422
        assert refused.json()["message"] == "Line 3: not a valid phone number: '12' (nothing was imported)"
        assert (await client.get(API)).json()["total"] == before  # nothing written

        unknown_agent = header + "MH-9300,Ada,Nowak,,ada@example.pl,nobody.here\n"
        answer = await client.post(
            f"{API}/import", content=unknown_agent.encode(), headers={**csrf, "Content-Type": "text/csv"}
        )
        assert answer.status_code == 422 and "nobody.here" in answer.json()["message"]

        imported = await client.post(
            f"{API}/import", content=good.encode("utf-8-sig"), headers={**csrf, "Content-Type": "text/csv"}
        )
        assert imported.status_code == 200, imported.text
        assert {k: imported.json()[k] for k in ("rows", "clients", "merged_rows")} == {
            "rows": 2,
            "clients": 2,
            "merged_rows": 0,
        }
        assert (await client.get(API)).json()["total"] == before + 2
        again = await client.post(
            f"{API}/import", content=good.encode(), headers={**csrf, "Content-Type": "text/csv"}
        )
        assert again.json()["clients"] == 2 and (await client.get(API)).json()["total"] == before + 2
    assert [d for a, _, d in await audit_actions(app) if a == "client.import"] == [
        {"rows": 2, "clients": 2, "merged_rows": 0},
        {"rows": 2, "clients": 2, "merged_rows": 0},
    ]


async def test_bad_input_gets_clear_errors_and_changes_nothing(app: FastAPI) -> None:
    async with signed_in(app, "kasia") as (client, csrf):
        bad_phone = await client.post(
            API, json={"identities": [{"kind": "phone", "value": "12"}]}, headers=csrf
        )
        assert bad_phone.status_code == 422 and bad_phone.json()["message"].startswith("identities[0]:")
        nobody = await client.post(API, json={"first_name": "Nameless"}, headers=csrf)
        assert nobody.status_code == 422 and "external_id" in nobody.json()["message"]
        extra = await client.post(API, json={"external_id": "X-1", "tier": "VIP"}, headers=csrf)
        assert extra.status_code == 422  # tier is computed, never written
        hannah = (await client.get(API, params={"q": "hannah brooks"})).json()["clients"][0]
        agent = await client.patch(
            f"{API}/{hannah['id']}", json={"concierge_agent_id": "nobody"}, headers=csrf
        )
        assert agent.status_code == 422 and "nobody" in agent.json()["message"]
        taken = await client.patch(f"{API}/{hannah['id']}", json={"external_id": "MH-0001"}, headers=csrf)
        assert taken.status_code == 409
        assert (await client.get(f"{API}/{hannah['id']}")).json()["external_id"] == "MH-0013"
        assert (await client.get(f"{API}/no-such-client")).status_code == 404
        assert (
            await client.patch(f"{API}/no-such-client", json={"language": "en"}, headers=csrf)
        ).status_code == 404
    assert await audit_actions(app) == []  # nothing happened, nothing audited

    async with signed_in(app, "anna.kowalska") as (agent_client, csrf):
        assert (await agent_client.get(f"{API}/{hannah['id']}")).status_code == 200
        refused = await agent_client.patch(f"{API}/{hannah['id']}", json={"language": "pl"}, headers=csrf)
        assert refused.status_code == 403


async def test_without_a_running_bot_the_api_says_why(tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=REPO, state_dir=tmp_path))
    platform: ConsolePlatform = await app.state.console.ready()
    await add_user(platform, "kasia", "manager")
    try:
        async with signed_in(app, "kasia") as (client, _):
            answer = await client.get(API)
            assert answer.status_code == 503
            assert "the bot is starting" in answer.text
    finally:
        await app.state.console.close()
