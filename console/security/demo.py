"""Demo accounts, only when ``settings.demo`` is true: one per agent in ``data/agents.yml``
plus an editor, a manager and an admin, all with :data:`DEMO_PASSWORD`.

The password is printed in the server log at start-up and in the README, because it is a
demo. A production server (``demo`` false, the default) never creates these accounts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from console.security.accounts import UserExists
from console.security.models import Role

if TYPE_CHECKING:
    from console.security.platform import ConsolePlatform

log = logging.getLogger(__name__)

DEMO_PASSWORD = "mariia-demo-2026"
STAFF: list[tuple[str, str, Role]] = [
    ("editor", "Ewa Zielińska (editor)", "editor"),
    ("manager", "Katarzyna Lewandowska (manager)", "manager"),
    ("admin", "Admin", "admin"),
]


def demo_accounts(platform: ConsolePlatform) -> list[tuple[str, str, Role, str | None]]:
    """``(username, display name, role, agent id)`` of every demo account for this project."""
    from handoff.agents import load_agents

    agents_file = platform.settings.project_dir / "data" / "agents.yml"
    accounts: list[tuple[str, str, Role, str | None]] = []
    if agents_file.is_file():
        accounts = [(a.id, a.name, "agent", a.id) for a in load_agents(agents_file).agents]
    return accounts + [(name, display, role, None) for name, display, role in STAFF]


async def ensure_demo_users(platform: ConsolePlatform) -> list[str]:
    """Create the missing demo accounts (existing ones are left alone); returns the usernames."""
    created = []
    password_hash = await platform.passwords.hash(DEMO_PASSWORD)
    for username, display, role, agent_id in demo_accounts(platform):
        if await platform.accounts.by_username(username) is not None:
            continue
        try:
            await platform.accounts.create(
                username, display_name=display, role=role, password_hash=password_hash, agent_id=agent_id
            )
        except UserExists:  # another worker created it meanwhile
            continue
        await platform.audit.record("system", "user.create", f"user:{username}", {"role": role, "demo": True})
        created.append(username)
    names = ", ".join(u for u, *_ in demo_accounts(platform))
    log.warning(
        "DEMO MODE: console accounts %s all have the password %r (never use demo mode in production)",
        names,
        DEMO_PASSWORD,
    )
    return created
