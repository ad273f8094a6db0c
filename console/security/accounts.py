"""Console accounts in the database: create, find, list, change role, disable, set password.

Usernames are stored lower-case. The password hash never leaves this module except to
the code that verifies it (:meth:`AccountStore.credentials`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from console.security.models import ROLES, USERNAME_PATTERN, ConsoleUser, Role, UserRecord
from console.tables import users


class AccountError(ValueError):
    """A change to accounts that cannot be made; the message is meant for the person asking."""


class UserExists(AccountError):
    """The username is taken."""


class UserNotFound(AccountError):
    """No such user."""


def normalize_username(username: str) -> str:
    """Lower-case and check ``username`` (letters, digits, ``.``, ``_``, ``-``; 2 to 64 long)."""
    name = username.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise AccountError(
            "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _user(row: Any) -> ConsoleUser:
    return ConsoleUser(
        id=row.id, username=row.username, display_name=row.display_name, role=row.role, agent_id=row.agent_id
    )


def _record(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        agent_id=row.agent_id,
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class AccountStore:
    """The ``console_users`` table behind a small async API."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        username: str,
        *,
        display_name: str,
        role: Role,
        password_hash: str,
        agent_id: str | None = None,
    ) -> UserRecord:
        """Add a user; :class:`UserExists` if the username is taken."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        name = normalize_username(username)
        now = _now()
        values = {
            "username": name,
            "display_name": display_name.strip() or name,
            "role": role,
            "agent_id": agent_id,
            "password_hash": password_hash,
            "disabled": False,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(users.insert().values(**values))
        except IntegrityError:
            raise UserExists(f"the username {name!r} is taken") from None
        found = await self.by_username(name)
        assert found is not None
        return found

    async def get(self, user_id: int) -> UserRecord | None:
        """The user with ``user_id``, disabled or not."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        return _record(row) if row else None

    async def by_username(self, username: str) -> UserRecord | None:
        """The user called ``username`` (any case), disabled or not."""
        async with self.engine.connect() as conn:
            stmt = select(users).where(users.c.username == username.strip().lower())
            row = (await conn.execute(stmt)).first()
        return _record(row) if row else None

    async def credentials(self, username: str) -> tuple[ConsoleUser, str, bool] | None:
        """``(user, password hash, disabled)`` for sign-in, or None for an unknown username."""
        async with self.engine.connect() as conn:
            stmt = select(users).where(users.c.username == username.strip().lower())
            row = (await conn.execute(stmt)).first()
        return (_user(row), row.password_hash, row.disabled) if row else None

    async def list(self) -> list[UserRecord]:
        """Every user, by username."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.username))).all()
        return [_record(row) for row in rows]

    async def count(self) -> int:
        """How many users exist."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def update(self, user_id: int, **changes: Any) -> UserRecord:
        """Change ``role``, ``display_name``, ``agent_id`` or ``disabled``; :class:`UserNotFound`."""
        allowed = {"role", "display_name", "agent_id", "disabled"}
        unknown = set(changes) - allowed
        if unknown:
            raise AccountError(f"cannot change {', '.join(sorted(unknown))}")
        if "role" in changes and changes["role"] not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        await self._update(user_id, {**changes, "updated_at": _now()})
        found = await self.get(user_id)
        assert found is not None
        return found

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Store a new password hash (a reset, or a re-hash with newer parameters)."""
        await self._update(user_id, {"password_hash": password_hash, "updated_at": _now()})

    async def _update(self, user_id: int, values: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if result.rowcount == 0:
            raise UserNotFound(f"no user with id {user_id}")
