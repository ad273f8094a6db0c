"""Erase requests, recorded before an erase runs, so one interrupted between stores is finished.

An erase reaches stores that cannot share one transaction: the main database, the demo
actions' bookings database and the attachment files on disk. So an erase is first recorded
(``privacy_erasures``, in the main database, committed on its own) with its subject and the
parts still to do; each part is idempotent (erasing what is already gone removes nothing)
and, when it succeeds, is struck from ``pending`` in the main database. The request is
``done`` only when nothing is pending; then its ``work`` (the subject's identities, names,
conversation ids and file paths: what the remaining parts need, personal data itself) is
cleared, and the row keeps only who asked, when, the opaque audit target and the counts.
:meth:`privacy.service.PrivacyService.resume_erasures` (run by the retention job) finishes
any request left pending by a crash or a failing store.

The table is on its own :data:`METADATA` (Alembic revision 0015), listed in
``bot/migrations/env.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import NAMING_CONVENTION, JSONType, UTCDateTime
from handoff.identity import Identity
from privacy.subject import DataSubject

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

erasures = Table(
    "privacy_erasures",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("actor_role", String(16), nullable=True),
    # the audit target (client:<opaque id>, "anonymous sender", "conversations"), never a phone
    Column("target", String(200), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    # the parts still to do: "main", then the other stores' eraser names and "files"
    Column("pending", JSONType, nullable=False),
    # what the pending parts need (subject, file paths); None once done
    Column("work", JSONType, nullable=True),
    Column("removed", JSONType, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # the last failure's exception class (never its message: it may quote the data)
    Column("last_error", String(200), nullable=True),
    Column("done_at", UTCDateTime(), nullable=True),
)

PENDING = "pending"
DONE = "done"
#: the part done in the main database's transaction
MAIN = "main"
#: the part that unlinks the subject's attachment files
FILES = "files"


def subject_to_json(subject: DataSubject) -> dict[str, Any]:
    """``subject`` as JSON (kept in ``work`` until the erase is done)."""
    return {
        "client_ids": sorted(subject.client_ids),
        "identities": [i.model_dump() for i in sorted(subject.identities, key=str)],
        "conversation_ids": sorted(subject.conversation_ids),
        "names": sorted(subject.names),
        "primary": subject.primary,
    }


def subject_from_json(data: dict[str, Any]) -> DataSubject:
    """The subject :func:`subject_to_json` wrote."""
    return DataSubject(
        client_ids=frozenset(data.get("client_ids", ())),
        identities=frozenset(Identity.model_validate(i) for i in data.get("identities", ())),
        conversation_ids=frozenset(data.get("conversation_ids", ())),
        names=frozenset(data.get("names", ())),
        primary=data.get("primary"),
    )


@dataclass
class Erasure:
    """One recorded erase request, as read back."""

    id: int
    target: str
    actor: str
    actor_role: str | None
    pending: list[str]
    subject: DataSubject
    files: list[str]
    removed: dict[str, int]


async def record_erasure(
    conn: AsyncConnection,
    now: dt.datetime,
    subject: DataSubject,
    parts: list[str],
    *,
    actor: str,
    actor_role: str | None,
) -> int:
    """Record an erase of ``subject`` with ``parts`` to do; its id (commit it before erasing)."""
    result = await conn.execute(
        erasures.insert().values(
            requested_at=now,
            actor=actor[:64],
            actor_role=actor_role,
            target=subject.audit_target[:200],
            status=PENDING,
            pending=parts,
            work={"subject": subject_to_json(subject), "files": []},
            removed={},
            attempts=0,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has its key
    return int(key[0])


def _of(row: Any) -> Erasure:
    work = row.work or {}
    return Erasure(
        id=row.id,
        target=row.target,
        actor=row.actor,
        actor_role=row.actor_role,
        pending=list(row.pending or []),
        subject=subject_from_json(work.get("subject") or {}),
        files=list(work.get("files") or []),
        removed=dict(row.removed or {}),
    )


async def load_erasure(conn: AsyncConnection, erasure_id: int, *, lock: bool = False) -> Erasure | None:
    """The request ``erasure_id`` while it is pending (None once done); ``lock``: row-locked
    until the transaction ends (PostgreSQL), so two processes never do its main part twice."""
    query = select(erasures).where(erasures.c.id == erasure_id, erasures.c.status == PENDING)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    return _of(row) if row is not None else None


async def pending_erasures(conn: AsyncConnection, requested_before: dt.datetime | None = None) -> list[int]:
    """Ids of the requests not done yet (requested before ``requested_before``), oldest first."""
    query = select(erasures.c.id).where(erasures.c.status == PENDING).order_by(erasures.c.id)
    if requested_before is not None:
        query = query.where(erasures.c.requested_at < requested_before)
    return [row.id for row in await conn.execute(query)]


async def part_done(
    conn: AsyncConnection,
    erasure_id: int,
    part: str,
    counts: dict[str, int],
    now: dt.datetime,
    *,
    more: list[str] | None = None,
    files: list[str] | None = None,
) -> bool:
    """Strike ``part`` from the request's pending parts (adding ``more`` parts and ``files``
    to unlink), add what it removed (``counts`` by data kind); the request is done (its
    ``work`` cleared) when nothing is left. Returns whether it is done. Call it in the part's
    transaction where there is one."""
    row = (
        await conn.execute(
            select(erasures.c.pending, erasures.c.work, erasures.c.removed)
            .where(erasures.c.id == erasure_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return True
    pending = [p for p in (row.pending or []) if p != part] + [
        p for p in (more or []) if p not in (row.pending or [])
    ]
    removed = dict(row.removed or {})
    for kind, count in counts.items():
        removed[kind] = removed.get(kind, 0) + count
    work = dict(row.work or {})
    if files:
        work["files"] = sorted({*work.get("files", []), *files})
    done = not pending
    await conn.execute(
        update(erasures)
        .where(erasures.c.id == erasure_id)
        .values(
            pending=pending,
            removed=removed,
            work=None if done else work,
            status=DONE if done else PENDING,
            done_at=now if done else None,
        )
    )
    return done


async def part_failed(conn: AsyncConnection, erasure_id: int, error: BaseException) -> None:
    """Count a failed attempt and name the exception's class (never its message)."""
    await conn.execute(
        update(erasures)
        .where(erasures.c.id == erasure_id)
        .values(attempts=erasures.c.attempts + 1, last_error=type(error).__name__[:200])
    )
