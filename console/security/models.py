"""Who is signed in: the role names and the user model every console route receives."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

Role = Literal["agent", "editor", "manager", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

# Who may use what. Managers and admins can do everything agents can; editors cannot use
# the workspace; agents read the knowledge base but do not change it.
WORKSPACE_ROLES: tuple[Role, ...] = ("agent", "manager", "admin")
KNOWLEDGE_READ_ROLES: tuple[Role, ...] = ("agent", "editor", "manager", "admin")
KNOWLEDGE_WRITE_ROLES: tuple[Role, ...] = ("editor", "manager", "admin")
ANALYTICS_ROLES: tuple[Role, ...] = ("manager", "admin")
AUDIT_ROLES: tuple[Role, ...] = ("manager", "admin")
ADMIN_ROLES: tuple[Role, ...] = ("admin",)
CLIENT_READ_ROLES: tuple[Role, ...] = WORKSPACE_ROLES
CLIENT_WRITE_ROLES: tuple[Role, ...] = ("manager", "admin")

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class ConsoleUser(BaseModel):
    """The signed-in person, as routes see them (never the password hash).

    ``agent_id`` is the ``data/agents.yml`` id when the user is an agent (their routing
    profile), else None. ``name`` is the username (what the knowledge editor records as
    a version's author).
    """

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    display_name: str
    role: Role
    agent_id: str | None = None

    @property
    def name(self) -> str:
        """The username; the knowledge editor's author field."""
        return self.username


class UserRecord(ConsoleUser):
    """A user with their account state, for the admin's user list."""

    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
