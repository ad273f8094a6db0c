"""Export, erase and retention: one loop over the registered erasers, one transaction each.

``PrivacyService.for_settings(settings, engine)`` builds the service for a project (tiers
from ``handoff.yml``, retention from its ``privacy:`` section, attachment folders from the
state dir and ``credentials.yml``) on the engine's database. The CLI
(``concierge privacy ...``), the admin API (``/api/privacy/...``) and the server's
scheduled job all call it. Every export, erase and retention run writes an audit entry
that names the (opaque) client id and counts, never a phone, e-mail or name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, false, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.audit import audit, write_entry
from bot.leases import lease_in
from bot.settings import Settings
from handoff.config import TierConfig, load_handoff_config
from privacy.base import Eraser, Run
from privacy.config import PrivacyConfig, load_privacy_config
from privacy.erasers import default_erasers
from privacy.retention import expired_conversations
from privacy.subject import DataSubject, resolve_subject

EXPORT_FORMAT = "concierge.privacy.export/1"
#: the cross-process lease of the retention job (bot.leases)
RETENTION_LEASE = "privacy-retention"


class ErasureReport(BaseModel):
    """What an erase removed: rows (or files, or scrubbed audit entries) per data kind."""

    subject: str = Field(description="the audit target: client:<id>, never a phone or e-mail")
    conversations: int
    removed: dict[str, int]


class RetentionReport(BaseModel):
    """What a retention run removed (or, on a dry run, would remove)."""

    ran: bool = Field(description="False when another process held the lease or ran it recently")
    dry_run: bool
    conversations: int = Field(default=0, description="conversations past their TTL")
    removed: dict[str, int] = Field(default_factory=dict)
    at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def attachment_dirs(settings: Settings) -> list[Path]:
    """Where client files are stored: ``<state>/attachments`` and the e-mail channel's folder."""
    found = [settings.resolved_state_dir() / "attachments"]
    credentials = settings.project_dir / "credentials.yml"
    if credentials.is_file():
        from bot.channels.credentials import load_credentials

        email = load_credentials(credentials).section("email") or {}
        configured = email.get("attachments_dir")
        if configured:
            path = Path(str(configured))
            found.append(path if path.is_absolute() else settings.project_dir / path)
    return found


class PrivacyService:
    """Export, erase and expire personal data in every registered store."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        erasers: Sequence[Eraser],
        tiers: TierConfig | None = None,
        config: PrivacyConfig | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.engine = engine
        self.erasers = list(erasers)
        self.tiers = tiers or TierConfig()
        self.config = config or PrivacyConfig()
        self.clock = clock

    @classmethod
    def for_settings(
        cls, settings: Settings, engine: AsyncEngine, *, extra: Sequence[Eraser] = ()
    ) -> PrivacyService:
        """The service of a project: its tiers, retention, attachment folders, on ``engine``."""
        config_file = settings.project_dir / "handoff.yml"
        path = config_file if config_file.is_file() else None
        from privacy.erasers.bookings import BookingEraser  # the demo actions' own database

        return cls(
            engine,
            # bookings last: their database is another, so they go once everything else succeeded
            erasers=[*default_erasers(attachment_dirs(settings), extra), BookingEraser()],
            tiers=load_handoff_config(path).tiers,
            config=load_privacy_config(path),
        )

    @asynccontextmanager
    async def _run(self, *, dry_run: bool = False) -> AsyncIterator[Run]:
        """One transaction; committed (then after-commit work) unless ``dry_run``."""
        async with self.engine.connect() as conn:
            run = Run(conn=conn, now=self.clock(), dry_run=dry_run)
            async with conn.begin() as transaction:
                if conn.dialect.name == "sqlite":
                    # the SQLite driver starts its transaction at the first write: write first, so
                    # what the erasers read and what they delete are one snapshot (and a busy
                    # database is waited for here, not failed on mid-run)
                    await conn.execute(delete(audit).where(false()))
                yield run
                if dry_run:
                    await transaction.rollback()
            run.finish()

    async def subject(self, raw: str) -> DataSubject:
        """Whom ``raw`` names; :class:`~privacy.subject.SubjectNotFound` if nobody."""
        async with self.engine.connect() as conn:
            return await resolve_subject(conn, raw)

    async def export(self, raw: str, *, actor: str, actor_role: str | None = None) -> dict[str, Any]:
        """A machine-readable archive of everything held about ``raw`` (audited)."""
        async with self._run() as run:
            subject = await resolve_subject(run.conn, raw)
            data = {eraser.name: await eraser.export(subject, run) for eraser in self.erasers}
            await write_entry(
                run.conn, run.now, actor, actor_role, "privacy.export", subject.audit_target, {}
            )
        return {
            "format": EXPORT_FORMAT,
            "exported_at": run.now.isoformat(),
            "subject": {
                "client_id": subject.primary,
                "client_ids": sorted(subject.client_ids),
                "identities": [i.model_dump() for i in sorted(subject.identities, key=str)],
                "conversation_ids": sorted(subject.conversation_ids),
            },
            "data": data,
        }

    async def erase(self, raw: str, *, actor: str, actor_role: str | None = None) -> ErasureReport:
        """Erase everything held about ``raw`` in one transaction; the audit keeps that it
        happened, by whom and when, with counts."""
        async with self._run() as run:
            subject = await resolve_subject(run.conn, raw)
            removed = await self._erase(subject, run)
            report = ErasureReport(
                subject=subject.audit_target, conversations=len(subject.conversation_ids), removed=removed
            )
            detail = {"conversations": report.conversations, "removed": removed}
            await write_entry(
                run.conn, run.now, actor, actor_role, "privacy.erase", subject.audit_target, detail
            )
        return report

    async def _erase(self, subject: DataSubject, run: Run) -> dict[str, int]:
        return {eraser.name: await eraser.erase(subject, run) for eraser in self.erasers}

    async def retention(self, *, dry_run: bool = False, actor: str = "system") -> RetentionReport:
        """Delete everything past its TTL now (``dry_run``: count it, change nothing)."""
        return await self._retention(dry_run=dry_run, actor=actor, unless_within=None)

    async def scheduled_retention(self) -> RetentionReport:
        """The server's periodic run: skipped when another process holds the lease or the
        last run (of any process) is more recent than the configured interval."""
        interval = dt.timedelta(hours=self.config.interval_hours)
        return await self._retention(dry_run=False, actor="system", unless_within=interval)

    async def _retention(
        self, *, dry_run: bool, actor: str, unless_within: dt.timedelta | None
    ) -> RetentionReport:
        retention = self.config.retention
        async with self._run(dry_run=dry_run) as run, lease_in(run.conn, RETENTION_LEASE) as leased:
            if not leased or (unless_within and await _ran_since(run.conn, run.now - unless_within)):
                return RetentionReport(ran=False, dry_run=dry_run, at=run.now)
            expired = await expired_conversations(run.conn, retention, self.tiers, run.now)
            subject = DataSubject.of_conversations(expired)
            removed = await self._erase(subject, run) if expired else {}
            for eraser in self.erasers:
                removed[eraser.name] = removed.get(eraser.name, 0) + await eraser.expire(retention, run)
            report = RetentionReport(
                ran=True, dry_run=dry_run, conversations=len(expired), removed=removed, at=run.now
            )
            if not dry_run:
                detail = {"conversations": len(expired), "removed": removed}
                await write_entry(run.conn, run.now, actor, None, "privacy.retention", "retention", detail)
        return report


async def _ran_since(conn: AsyncConnection, since: dt.datetime) -> bool:
    row = await conn.execute(
        select(audit.c.id).where(audit.c.action == "privacy.retention", audit.c.at >= since).limit(1)
    )
    return row.first() is not None
