"""The console home: the signed-in user's name, role and only the sections their role may use."""

from __future__ import annotations

import re

from fastapi import FastAPI

from console.security.models import Role
from console.security.platform import ConsolePlatform
from tests.console.conftest import client_for, sign_in

SECTIONS = {
    "agent": ["Workspace", "Clients", "Outreach", "Knowledge"],
    "editor": ["Knowledge"],
    "manager": ["Workspace", "Clients", "Outreach", "Knowledge", "Analytics", "Automation", "Audit"],
    "admin": ["Workspace", "Clients", "Outreach", "Knowledge", "Analytics", "Users", "Automation", "Audit"],
}


async def test_navigation_follows_the_role(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    for role, username in role_users.items():
        async with client_for(console_app) as client:
            await sign_in(client, username)
            page = await client.get("/console")
        assert page.status_code == 200
        nav = re.search(r'<nav aria-label="Console sections">(.*?)</nav>', page.text, re.S)
        assert nav is not None
        assert re.findall(r">([A-Za-z]+)</a>", nav.group(1)) == SECTIONS[role], role
        assert f'<span class="role-badge">{role}</span>' in page.text
        assert re.search(r'<meta name="csrf-token" content="[0-9a-f]{64}">', page.text)
        # the widget snippet is shown as text to copy (managers and admins), never run
        assert ("&lt;script src=" in page.text) == (role in ("manager", "admin"))


async def test_names_are_shown_as_text(console_app: FastAPI, platform: ConsolePlatform) -> None:
    await platform.accounts.create(
        "mallory",
        display_name='<img src=x onerror="alert(1)">',
        role="agent",
        password_hash=await platform.passwords.hash("correct horse battery"),
    )
    async with client_for(console_app) as client:
        await sign_in(client, "mallory")
        page = await client.get("/console")
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=" in page.text
