"""Export, erase and retention: one loop over the registered erasers, one transaction each.

``PrivacyService.for_settings(settings, engine)`` builds the service for a project (tiers
from ``handoff.yml``, retention from its ``privacy:`` section, attachment folders from the
state dir and ``credentials.yml``) on the engine's database. The CLI
(``concierge privacy ...``), the admin API (``/api/privacy/...``) and the server's
scheduled job all call it. Every export, erase and retention run writes an audit entry
that names the (opaque) client id and counts, never a phone, e-mail or name.

An erase is recorded before it runs (:mod:`privacy.erasures`) and done part by part: the
main database's stores in one transaction, then each store of its own (the demo's bookings
database) and the subject's files; a part that fails stays pending and the retention job
resumes it, so an erase interrupted between stores never leaves data behind unnoticed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
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
from privacy.base import Eraser, Run, unlink_files
from privacy.config import PrivacyConfig, load_privacy_config
from privacy.erasers import default_erasers
from privacy.erasures import (
    FILES,
    MAIN,
    Erasure,
    erasures,
    load_erasure,
    part_done,
    part_failed,
    pending_erasures,
    record_erasure,
)
from privacy.retention import expired_conversations, stale_profiles
from privacy.subject import DataSubject, resolve_subject

log = logging.getLogger(__name__)

EXPORT_FORMAT = "concierge.privacy.export/1"
#: the cross-process lease of the retention job (bot.leases)
RETENTION_LEASE = "privacy-retention"
#: how old a pending erase must be before the scheduled job resumes it (one in progress is not raced)
RESUME_AFTER = dt.timedelta(minutes=5)


class ErasureReport(BaseModel):
    """What an erase removed: rows (or files, or scrubbed audit entries) per data kind."""

    subject: str = Field(description="the audit target: client:<id>, never a phone or e-mail")
    conversations: int
    removed: dict[str, int]
    erasure: int = Field(description="the erase request's id (privacy_erasures)")
    pending: list[str] = Field(
        default_factory=list,
        description="parts not done yet (a store failed): the retention job resumes them",
    )


class RetentionReport(BaseModel):
    """What a retention run removed (or, on a dry run, would remove)."""

    ran: bool = Field(description="False when another process held the lease or ran it recently")
    dry_run: bool
    conversations: int = Field(default=0, description="conversations past their TTL")
    profiles: int = Field(default=0, description="client profiles past their TTL, erased with all their data")
    resumed: int = Field(default=0, description="unfinished erase requests completed by this run")
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
        other_stores: Sequence[Eraser] = (),
        tiers: TierConfig | None = None,
        config: PrivacyConfig | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.engine = engine
        self.erasers = list(erasers)
        #: stores outside the main database (own transactions): erased after it, one by one
        self.other_stores = list(other_stores)
        self.tiers = tiers or TierConfig()
        self.config = config or PrivacyConfig()
        self.clock = clock

    @classmethod
    def for_settings(
        cls, settings: Settings, engine: AsyncEngine, *, extra: Sequence[Eraser] = ()
    ) -> PrivacyService:
        """The service of a project: its tiers, retention, attachment folders, on ``engine``,
        and the demo actions' bookings database as a store of its own."""
        config_file = settings.project_dir / "handoff.yml"
        path = config_file if config_file.is_file() else None
        from privacy.erasers.bookings import BookingEraser  # the demo actions' own database

        return cls(
            engine,
            erasers=default_erasers(attachment_dirs(settings), extra),
            other_stores=[BookingEraser()],
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

    @property
    def _every_store(self) -> list[Eraser]:
        return [*self.erasers, *self.other_stores]

    async def subject(self, raw: str) -> DataSubject:
        """Whom ``raw`` names; :class:`~privacy.subject.SubjectNotFound` if nobody."""
        async with self.engine.connect() as conn:
            return await resolve_subject(conn, raw)

    async def export(self, raw: str, *, actor: str, actor_role: str | None = None) -> dict[str, Any]:
        """A machine-readable archive of everything held about ``raw`` (audited)."""
        async with self._run() as run:
            subject = await resolve_subject(run.conn, raw)
            data = {eraser.name: await eraser.export(subject, run) for eraser in self._every_store}
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
        """Erase everything held about ``raw`` in every store; the audit keeps that it
        happened, by whom and when, with counts. The request is recorded first; a part that
        fails is named in the report's ``pending`` and resumed by the retention job."""
        async with self.engine.begin() as conn:
            subject = await resolve_subject(conn, raw)
            erasure_id = await self._record(conn, subject, actor=actor, actor_role=actor_role)
        return await self.finish_erasure(erasure_id)

    async def _record(
        self, conn: AsyncConnection, subject: DataSubject, *, actor: str, actor_role: str | None
    ) -> int:
        parts = [MAIN, *(store.name for store in self.other_stores)]
        return await record_erasure(conn, self.clock(), subject, parts, actor=actor, actor_role=actor_role)

    async def finish_erasure(self, erasure_id: int) -> ErasureReport:
        """Do what is pending of erase request ``erasure_id``: the main database's stores in one
        transaction (with the ``privacy.erase`` audit entry), then every other store and the
        files, each struck off when it succeeded. Safe to run again, and concurrently."""
        async with self.engine.connect() as conn:
            erasure = await load_erasure(conn, erasure_id)
        conversations = len(erasure.subject.conversation_ids) if erasure is not None else 0
        async with self._run() as run:
            erasure = await load_erasure(run.conn, erasure_id, lock=True)  # another process may be at it
            if erasure is not None and MAIN in erasure.pending:
                subject = erasure.subject
                removed = await self._erase(subject, run)
                files = [str(path) for path in run.take_files()]
                detail = {"conversations": len(subject.conversation_ids), "removed": removed}
                await write_entry(
                    run.conn,
                    run.now,
                    erasure.actor,
                    erasure.actor_role,
                    "privacy.erase",
                    erasure.target,
                    detail,
                )
                await part_done(
                    run.conn, erasure_id, MAIN, removed, run.now, more=[FILES] if files else [], files=files
                )
        async with self.engine.connect() as conn:
            erasure = await load_erasure(conn, erasure_id)
        if erasure is not None:
            await self._other_parts(erasure)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(erasures).where(erasures.c.id == erasure_id))).one()
        return ErasureReport(
            subject=row.target,
            conversations=conversations,
            removed=dict(row.removed),
            erasure=row.id,
            pending=list(row.pending),
        )

    async def _other_parts(self, erasure: Erasure) -> None:
        """The pending parts outside the main database, each on its own; a failure is counted
        and left pending (logged by erase id, part and exception class: no personal data)."""
        stores = {store.name: store for store in self.other_stores}
        for part in erasure.pending:
            try:
                if part == FILES:
                    paths = [Path(p) for p in erasure.files]
                    counts = {FILES: await asyncio.to_thread(unlink_files, paths)}
                else:
                    async with self.engine.connect() as conn:
                        run = Run(conn=conn, now=self.clock())
                        counts = {part: await stores[part].erase(erasure.subject, run)}
            except Exception as exc:  # the store is down or refuses: the request stays pending
                log.warning(
                    "privacy: erase request %d: part %s failed (%s); the retention job resumes it",
                    erasure.id,
                    part,
                    type(exc).__name__,
                )
                async with self.engine.begin() as conn:
                    await part_failed(conn, erasure.id, exc)
                continue
            async with self.engine.begin() as conn:
                await part_done(conn, erasure.id, part, counts, self.clock())

    async def resume_erasures(self, *, requested_before: dt.datetime | None = None) -> int:
        """Finish every erase request still pending (requested before ``requested_before``);
        how many are done now."""
        async with self.engine.connect() as conn:
            ids = await pending_erasures(conn, requested_before)
        done = 0
        for erasure_id in ids:
            done += not (await self.finish_erasure(erasure_id)).pending
        return done

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
            removed: dict[str, int] = {}
            if expired:  # the other stores' own transactions commit first: a rollback here is retried
                removed = {e.name: await e.erase(subject, run) for e in self._every_store}
            for eraser in self.erasers:
                removed[eraser.name] = removed.get(eraser.name, 0) + await eraser.expire(retention, run)
            # stale profiles are erased as erase requests are: recorded with this run, done after it
            stale = await stale_profiles(run.conn, retention, self.tiers, run.now)
            recorded = (
                []
                if dry_run
                else [await self._record(run.conn, s, actor=actor, actor_role=None) for s in stale]
            )
            report = RetentionReport(
                ran=True,
                dry_run=dry_run,
                conversations=len(expired),
                profiles=len(stale),
                removed=removed,
                at=run.now,
            )
            if not dry_run:
                detail = {"conversations": len(expired), "profiles": len(stale), "removed": removed}
                await write_entry(run.conn, run.now, actor, None, "privacy.retention", "retention", detail)
        if dry_run:
            return report
        for erasure_id in recorded:
            for kind, count in (await self.finish_erasure(erasure_id)).removed.items():
                report.removed[kind] = report.removed.get(kind, 0) + count
        # erase requests a crash or a failing store left unfinished (not one in progress now)
        report.resumed = await self.resume_erasures(
            requested_before=run.now - RESUME_AFTER if unless_within else None
        )
        return report


async def _ran_since(conn: AsyncConnection, since: dt.datetime) -> bool:
    row = await conn.execute(
        select(audit.c.id).where(audit.c.action == "privacy.retention", audit.c.at >= since).limit(1)
    )
    return row.first() is not None
