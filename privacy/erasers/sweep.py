"""Read models and any other table keyed by a conversation or a client: found in the schema.

Projections (tickets, queue, per-conversation facts, agent load...) are derived from the
event log and keyed by ``conversation_id`` (or hold a ``client_id``); new ones are added
by other packages over time. Rather than trusting each to register itself, this eraser
reads the database's schema on every run and deletes, from every table it does not know
to be owned by another eraser, the rows whose ``conversation_id`` (or ``conversation``)
is one of the subject's conversations or whose ``client_id`` is one of their profiles.
A projection rebuilt from the log afterwards finds nothing of them either. Rows that stay
(another person's) have the subject's data scrubbed from their text, as
:mod:`privacy.erasers.mentions` does for the log itself.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import MetaData, Table, delete, inspect, or_, select, update
from sqlalchemy.engine import Connection

from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, row_dict
from privacy.erasers.mentions import scrub_json
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


def _keyed_tables(sync: Connection) -> list[tuple[Table, str | None, str | None]]:
    """(table, conversation key column, client key column) for every unowned table with either."""
    found: list[tuple[Table, str | None, str | None]] = []
    metadata = MetaData()
    inspector = inspect(sync)
    for name in sorted(inspector.get_table_names()):
        if name in OWNED:
            continue
        columns = {c["name"] for c in inspector.get_columns(name)}
        conversation = next((k for k in CONVERSATION_KEYS if k in columns), None)
        client = next((k for k in CLIENT_KEYS if k in columns), None)
        if conversation or client:
            found.append((Table(name, metadata, autoload_with=sync), conversation, client))
    return found


class ReadModelEraser:
    """Every other table with a ``conversation_id`` / ``conversation`` / ``client_id`` column."""

    name = "read_models"

    async def _conditions(self, subject: DataSubject, run: Run) -> list[tuple[Table, list[Any]]]:
        """Each keyed table with its WHERE clauses (one per chunk of ids) for ``subject``."""
        out: list[tuple[Table, list[Any]]] = []
        for table, conversation, client in await run.conn.run_sync(_keyed_tables):
            clauses: list[Any] = []
            if conversation:
                clauses += [table.c[conversation].in_(ids) for ids in chunked(subject.conversation_ids)]
            if client:
                clauses += [table.c[client].in_(ids) for ids in chunked(subject.client_ids)]
            if clauses:
                out.append((table, clauses))
        return out

    async def export(self, subject: DataSubject, run: Run) -> dict[str, list[dict[str, Any]]]:
        """The subject's rows of each such table, by table name."""
        out: dict[str, list[dict[str, Any]]] = {}
        for table, clauses in await self._conditions(subject, run):
            rows = await run.conn.execute(select(table).where(or_(*clauses)))
            found = [row_dict(row._mapping) for row in rows]
            if found:
                out[table.name] = found
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete those rows, and scrub the subject's data from the text of other rows (a
        read model copying a message that names them); returns rows deleted or scrubbed."""
        removed = 0
        for table, clauses in await self._conditions(subject, run):
            for clause in clauses:
                removed += (await run.conn.execute(delete(table).where(clause))).rowcount or 0
            removed += await self._scrub(table, subject, run)
        return removed

    @staticmethod
    async def _scrub(table: Table, subject: DataSubject, run: Run) -> int:
        pattern = subject.pattern()
        keys = list(table.primary_key.columns)
        if pattern is None or not keys:
            return 0
        changed = 0
        for row in (await run.conn.execute(select(table))).mappings().all():
            values = {
                name: scrub_json(value, subject)
                for name, value in row.items()
                if isinstance(value, str | dict | list)
                and subject.mentions(
                    value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                )
            }
            if values:
                where = [key == row[key.name] for key in keys]
                await run.conn.execute(update(table).where(*where).values(values))
                changed += 1
        return changed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Read models follow their conversations (expired through :meth:`erase`)."""
        return 0
