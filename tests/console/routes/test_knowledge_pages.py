"""The knowledge editor behind sign-in: pages per role, and every change in the audit log."""

from __future__ import annotations

from fastapi import FastAPI

from console.audit import AuditFilter
from console.security.models import Role
from console.security.platform import ConsolePlatform
from knowledge.editor import EditorService
from tests.console.conftest import client_for, sign_in


async def test_changes_are_audited_including_refused_publishes(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str], kb_editor: EditorService
) -> None:
    async with client_for(console_app) as client:
        csrf = {"X-CSRF-Token": await sign_in(client, role_users["editor"])}
        current = (await client.get("/api/knowledge/articles/lateness-policy")).json()["latest"]
        broken = {
            **{k: v for k, v in current.items() if k != "id"},
            "title": "Bicycle racks",
            "tags": ["bicycle"],
            "answer": "Racks are outside.",
            "body": "Racks outside.",
            "note": "bikes",
        }
        assert (
            await client.put("/api/knowledge/articles/lateness-policy", json=broken, headers=csrf)
        ).status_code == 200
        refused = await client.post("/api/knowledge/articles/lateness-policy/publish", headers=csrf)
        assert refused.status_code == 409
        rolled = await client.post(
            "/api/knowledge/articles/lateness-policy/rollback", json={"version": 1}, headers=csrf
        )
        assert rolled.status_code == 200
        versions = (await client.get("/api/knowledge/articles/lateness-policy/versions")).json()
        assert [v["author"] for v in versions] == ["ingest", "ewa", "ewa"]  # the signed-in user is the author
        published = await client.post("/api/knowledge/articles/lateness-policy/publish", headers=csrf)
        assert published.status_code == 200
    entries, _ = await platform.audit.entries(AuditFilter(action="knowledge.*"))
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("knowledge.publish", "ewa", "article:lateness-policy"),
        ("knowledge.rollback", "ewa", "article:lateness-policy"),
        ("knowledge.publish_refused", "ewa", "article:lateness-policy"),
        ("knowledge.edit", "ewa", "article:lateness-policy"),
    ]
    assert entries[0].detail == {"version": 3}, "the version that went live, not {'version': None}"
    assert "what happens if I'm 15 minutes late?" in entries[2].detail["failing"]
    assert "15-minute grace period" in entries[2].detail["lost_facts"]


async def test_agents_read_but_do_not_edit(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str], kb_editor: EditorService
) -> None:
    async with client_for(console_app) as client:
        csrf = {"X-CSRF-Token": await sign_in(client, role_users["agent"])}
        page = await client.get("/console/knowledge/articles/lateness-policy")
        assert page.status_code == 200
        assert 'data-can-write="no"' in page.text and '<fieldset class="stack plain" disabled>' in page.text
        assert "Publish latest" not in page.text
        assert (await client.get("/console/knowledge/new")).status_code == 403
        refused = await client.post("/api/knowledge/articles/gift-cards/unpublish", headers=csrf)
        assert refused.status_code == 403
        for path in (
            "/console/knowledge",
            "/console/knowledge/try",
            "/console/knowledge/golden",
            "/console/knowledge/gaps",
        ):
            assert (await client.get(path)).status_code == 200
        tried = await client.post(
            "/api/knowledge/try", json={"question": "can I pay a deposit?"}, headers=csrf
        )
        assert tried.status_code == 200 and tried.json()["passages"]


async def test_without_a_knowledge_base_the_api_says_so(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as client:
        await sign_in(client, role_users["editor"])
        response = await client.get("/api/knowledge/articles")
    assert (
        response.status_code == 503
        and response.json()["message"] == "This project has no knowledge base to edit."
    )
