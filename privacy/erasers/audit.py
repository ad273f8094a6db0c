"""The audit log's part: who did what to whom stays; the personal values go.

Audit entries are evidence (who changed a client, who replied, who erased), so erase
does not delete them: an entry about the subject keeps its time, actor, action and keys,
while every text value in its detail becomes ``[erased]`` and a conversation id in its
target (which may carry a phone or e-mail) too. Whom an entry is about is its indexed
``subject`` column (``client:<id>`` of the client or a merged profile, or
``conversation:<id>`` of one of their conversations; :func:`bot.audit.subject_of`), so an
erase reads only those entries, never the whole log. Code writes personal values into an
entry's detail only about the entry's own subject (others are named by id and counted).
Retention deletes entries older than ``audit_days``, except the records of erasure
themselves (``privacy.erase``), which carry no personal data and prove the erase.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from bot.audit import audit
from privacy.base import ERASED, Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, cutoff, row_dict
from privacy.subject import DataSubject

#: actions whose entries outlive the audit TTL (they record erasures)
KEPT_ACTIONS = ("privacy.erase",)


def _blank(value: Any) -> Any:
    """Every text value of ``value`` replaced by ``[erased]`` (keys, numbers, flags stay)."""
    if isinstance(value, str):
        return ERASED
    if isinstance(value, dict):
        return {key: _blank(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_blank(inner) for inner in value]
    return value


class AuditEraser:
    """The ``console_audit`` table (bot/audit.py)."""

    name = "audit"

    def _about(self, subject: DataSubject) -> tuple[set[str], set[str]]:
        clients = {f"client:{c}" for c in subject.client_ids}
        chats = {f"conversation:{c}" for c in subject.conversation_ids}
        return clients, chats

    async def _matching(self, subject: DataSubject, run: Run) -> list[Any]:
        """The entries about the subject, through the ``subject`` index."""
        clients, chats = self._about(subject)
        found = []
        for keys in chunked(clients | chats):
            rows = await run.conn.execute(select(audit).where(audit.c.subject.in_(keys)).order_by(audit.c.id))
            found += list(rows)
        return sorted(found, key=lambda row: row.id)

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """Entries about the subject."""
        return [row_dict(row._mapping) for row in await self._matching(subject, run)]

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Blank the values of entries about the subject; returns how many changed. An entry
        about one of their conversations loses the id too (target and subject): ids stored
        before opaque ids carry the phone or e-mail."""
        changed = 0
        for row in await self._matching(subject, run):
            detail = _blank(row.detail or {})
            if row.subject.startswith("client:"):
                target, about = row.target, row.subject
            else:
                target, about = f"conversation:{ERASED}", None
            if (target, about, detail) != (row.target, row.subject, row.detail):
                await run.conn.execute(
                    update(audit)
                    .where(audit.c.id == row.id)
                    .values(target=target, subject=about, detail=detail)
                )
                changed += 1
        return changed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete entries older than ``audit_days`` (records of erasure stay)."""
        before = cutoff(run.now, retention.audit_days)
        if before is None:
            return 0
        result = await run.conn.execute(
            delete(audit).where(audit.c.at < before, audit.c.action.not_in(KEPT_ACTIONS))
        )
        return result.rowcount or 0
