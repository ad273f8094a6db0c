"""Database tables of the console: accounts, login sessions, login attempts and API tokens.

SQLAlchemy Core on their own ``MetaData`` (SQLite and PostgreSQL). The schema a database
really has is built by Alembic revision ``0005_console``; a test checks the two agree.

- ``console_users``: one row per person who signs in. Only an argon2 hash of the
  password is kept; ``agent_id`` links an agent to their profile in ``data/agents.yml``.
- ``console_sessions``: the id is the SHA-256 of the random token in the browser's
  cookie, so a leaked table does not let anyone sign in.
- ``console_login_attempts``: failed and successful sign-ins, for throttling.
- ``console_audit`` is not the console's any more: the audit log is :mod:`bot.audit`'s,
  on its own MetaData (``audit`` is re-exported here for older callers).
- ``console_api_tokens``: API tokens for other systems (revision ``0006_api_tokens``): only
  the SHA-256 of each token (unique), a short hint, scopes, expiry and revocation.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table

from bot.audit import audit
from bot.store.tables import NAMING_CONVENTION, BigIntId, JSONType, UTCDateTime

__all__ = ["METADATA", "api_tokens", "audit", "login_attempts", "sessions", "users"]

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

users = Table(
    "console_users",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

sessions = Table(
    "console_sessions",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column(
        "user_id", Integer, ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

login_attempts = Table(
    "console_login_attempts",
    METADATA,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_console_login_attempts_username_at", "username", "at"),
    Index("ix_console_login_attempts_ip_at", "ip", "at"),
)

api_tokens = Table(
    "console_api_tokens",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("hint", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("scopes", JSONType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(64), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
)
