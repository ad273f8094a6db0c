"""Read models and any other table keyed by a conversation or a client: found in the schema.

Projections (tickets, queue, per-conversation facts, agent load...) are derived from the
event log and keyed by ``conversation_id`` (or hold a ``client_id``); new ones are added
by other packages over time. Rather than trusting each to register itself, this eraser
reads the database's schema on every run and deletes, from every table it does not know
to be owned by another eraser, the rows whose ``conversation_id`` (or ``conversation``)
is one of the subject's conversations or whose ``client_id`` is one of their profiles.
A projection rebuilt from the log afterwards finds nothing of them either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, Table, delete, inspect, select
from sqlalchemy.engine import Connection

from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, row_dict
from privacy.subject import DataSubject

#: tables whose personal data another eraser handles (or that hold none)
OWNED = frozenset(
    {
        "alembic_version",
        "conversations",
        "events",
        "inbound_messages",
        "outbox",
        "kb_gaps",
        "clients",
        "client_identities",
        "client_visits",
        "client_notes",
        "console_audit",
    }
)
CONVERSATION_KEYS = ("conversation_id", "conversation")
CLIENT_KEYS = ("client_id",)


def _keyed_tables(sync: Connection) -> list[tuple[Table, str, str]]:
    """(table, column, "conversation" | "client") for every unowned table with a key column."""
    found: list[tuple[Table, str, str]] = []
    metadata = MetaData()
    inspector = inspect(sync)
    for name in sorted(inspector.get_table_names()):
        if name in OWNED:
            continue
        columns = {c["name"] for c in inspector.get_columns(name)}
        for key in CONVERSATION_KEYS:
            if key in columns:
                found.append((Table(name, metadata, autoload_with=sync), key, "conversation"))
                break
        for key in CLIENT_KEYS:
            if key in columns:
                found.append((Table(name, metadata, autoload_with=sync), key, "client"))
    return found


class ReadModelEraser:
    """Every other table with a ``conversation_id`` / ``conversation`` / ``client_id`` column."""

    name = "read_models"

    async def _tables(self, run: Run) -> list[tuple[Table, str, list[str]]]:
        keyed = await run.conn.run_sync(_keyed_tables)
        return [(table, column, [table.name, kind]) for table, column, kind in keyed]

    @staticmethod
    def _ids(subject: DataSubject, kind: str) -> frozenset[str]:
        return subject.conversation_ids if kind == "conversation" else subject.client_ids

    async def export(self, subject: DataSubject, run: Run) -> dict[str, list[dict[str, Any]]]:
        """The subject's rows of each such table, by table name."""
        out: dict[str, list[dict[str, Any]]] = {}
        for table, column, (name, kind) in await self._tables(run):
            for ids in chunked(self._ids(subject, kind)):
                rows = await run.conn.execute(select(table).where(table.c[column].in_(ids)))
                out.setdefault(name, []).extend(row_dict(row._mapping) for row in rows)
        return {name: rows for name, rows in out.items() if rows}

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete those rows; returns how many."""
        removed = 0
        for table, column, (_name, kind) in await self._tables(run):
            for ids in chunked(self._ids(subject, kind)):
                result = await run.conn.execute(delete(table).where(table.c[column].in_(ids)))
                removed += result.rowcount or 0
        return removed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Read models follow their conversations (expired through :meth:`erase`)."""
        return 0
