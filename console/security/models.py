"""Who is signed in: the role names and the user model every console route receives."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

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

    An API token's caller is a ConsoleUser too (so routes need no second code path):
    ``scopes`` holds the token's scopes (None for a person), ``id`` is minus the token's id,
    ``username`` is ``token:<name>``, and ``role`` is ``agent`` (the least a person may do)
    but is never what admits a token: routes check its scopes
    (:func:`console.deps.require_roles`).
    """

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    display_name: str
    role: Role
    agent_id: str | None = None
    scopes: frozenset[str] | None = Field(default=None, description="an API token's scopes; None: a person")

    @property
    def name(self) -> str:
        """The username; the knowledge editor's author field."""
        return self.username

    @property
    def is_token(self) -> bool:
        """True when the caller is another system with an API token, not a signed-in person."""
        return self.scopes is not None


class UserRecord(ConsoleUser):
    """A user with their account state, for the admin's user list."""

    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
