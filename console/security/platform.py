"""The console's object graph: accounts, sessions, API tokens, throttle, audit log over one database.

``create_app`` builds one :class:`ConsolePlatform` (stored as ``app.state.console``). It
uses the engine's own event store (the same database as the conversations) once the
engine exists; an app serving without an engine (tests, tools) gets its own migrated
store from the settings' database URL. Either way it opens lazily, on first use, so
routes work whether or not the lifespan ran.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from bot.settings import Settings
from bot.store import EventStore
from console.audit import AuditLog
from console.security.accounts import AccountStore
from console.security.models import ConsoleUser
from console.security.passwords import Passwords
from console.security.sessions import SessionStore
from console.security.settings import ConsoleSettings
from console.security.throttle import LoginThrottle
from console.security.tokens import TokenStore

log = logging.getLogger(__name__)


class LoginFailed(Exception):
    """Wrong username or password (never says which), or a disabled account."""

    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


class LoginThrottled(Exception):
    """Too many failed attempts; ``retry_after`` seconds until the next may be made."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many failed sign-in attempts. Please try again in {minutes} {unit}.")
        self.retry_after = retry_after


@dataclass
class _Opened:
    store: EventStore
    owned: bool


class ConsolePlatform:
    """Accounts, sessions, API tokens, throttle and audit log, opened on first use."""

    def __init__(self, settings: Settings, handler: Any, console: ConsoleSettings | None = None) -> None:
        self.settings = settings
        self.handler = handler  # the app's engine slot (``.engine``) or an engine
        self.config = console or ConsoleSettings()
        self.passwords = Passwords()
        self._opened: _Opened | None = None
        self._lock = asyncio.Lock()
        self.accounts: AccountStore
        self.sessions: SessionStore
        self.throttle: LoginThrottle
        self.audit: AuditLog
        self.tokens: TokenStore

    @property
    def store(self) -> EventStore:
        """The event store the console reads (analytics) and keeps its tables in."""
        if self._opened is None:
            raise RuntimeError("the console platform is not open yet; await ready() first")
        return self._opened.store

    async def ready(self) -> ConsolePlatform:
        """Open the database on first call (idempotent; safe under concurrency)."""
        if self._opened is not None:
            return self
        async with self._lock:
            if self._opened is None:
                self._open(await self._find_store())
        return self

    async def _find_store(self) -> _Opened:
        engine = getattr(self.handler, "engine", self.handler)
        store = getattr(engine, "store", None)
        if isinstance(store, EventStore):
            return _Opened(store, owned=False)
        self.settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
        own = EventStore.from_url(self.settings.resolved_database_url())
        try:
            await own.migrate()
        except BaseException:
            await own.close()
            raise
        return _Opened(own, owned=True)

    def _open(self, opened: _Opened) -> None:
        db = opened.store.engine
        cfg = self.config
        self.accounts = AccountStore(db)
        self.sessions = SessionStore(
            db,
            idle=dt.timedelta(minutes=cfg.session_idle_minutes),
            absolute=dt.timedelta(hours=cfg.session_absolute_hours),
        )
        self.throttle = LoginThrottle(
            db,
            window=dt.timedelta(minutes=cfg.throttle_window_minutes),
            max_per_username=cfg.throttle_max_per_username,
            max_per_ip=cfg.throttle_max_per_ip,
        )
        self.audit = AuditLog(db)
        self.tokens = TokenStore(db)
        self._opened = opened

    async def start(self) -> None:
        """At app start-up: open, prune dead sessions, and in demo mode create the demo users."""
        await self.ready()
        await self.sessions.prune()
        if self.settings.demo:
            from console.security.demo import ensure_demo_users

            await ensure_demo_users(self)

    async def close(self) -> None:
        """Close the database connections the platform opened itself (not the engine's)."""
        opened, self._opened = self._opened, None
        if opened is not None and opened.owned:
            await opened.store.close()

    async def authenticate(self, username: str, password: str, ip: str) -> ConsoleUser:
        """The user for these credentials; :class:`LoginThrottled` or :class:`LoginFailed` otherwise.

        The password is checked (in a thread) even for an unknown username, so the answer
        time does not tell which usernames exist. Outdated hashes are upgraded here.
        """
        await self.ready()
        name = username.strip().lower()[:64]
        wait = await self.throttle.retry_after(name, ip)
        if wait is not None:
            raise LoginThrottled(wait)
        found = await self.accounts.credentials(name)
        verified = await self.passwords.verify(found[1] if found else None, password)
        if found is None or not verified.ok or found[2]:
            await self.throttle.record(name, ip, succeeded=False)
            raise LoginFailed()
        user = found[0]
        if verified.rehashed:
            await self.accounts.set_password_hash(user.id, verified.rehashed)
        await self.throttle.record(name, ip, succeeded=True)
        return user
