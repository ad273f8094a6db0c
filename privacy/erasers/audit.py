"""The audit log's part: who did what to whom stays; the personal values go.

Audit entries are evidence (who changed a client, who replied, who erased), so erase
does not delete them: an entry about the subject (target ``client:<id>`` of the client
or a merged profile, or ``conversation:<id>`` of one of their conversations) keeps its
time, actor, action and keys, while every text value in its detail becomes ``[erased]``
and a conversation id in its target (which may carry a phone or e-mail) too. Any other
entry that mentions the subject's phone, e-mail or name has those values scrubbed.
Retention deletes entries older than ``audit_days``, except the records of erasure
themselves (``privacy.erase``), which carry no personal data and prove the erase.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select, update

from bot.audit import audit
from privacy.base import ERASED, Run
from privacy.config import RetentionConfig
from privacy.erasers.common import cutoff, row_dict
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


def _scrubbed(value: Any, subject: DataSubject) -> Any:
    if isinstance(value, str):
        return subject.scrub(value)
    if isinstance(value, dict):
        return {key: _scrubbed(inner, subject) for key, inner in value.items()}
    if isinstance(value, list):
        return [_scrubbed(inner, subject) for inner in value]
    return value


class AuditEraser:
    """The ``console_audit`` table (bot/audit.py)."""

    name = "audit"

    def _about(self, subject: DataSubject) -> tuple[set[str], set[str]]:
        clients = {f"client:{c}" for c in subject.client_ids}
        chats = {f"conversation:{c}" for c in subject.conversation_ids}
        return clients, chats

    async def _matching(self, subject: DataSubject, run: Run) -> list[Any]:
        clients, chats = self._about(subject)
        pattern = subject.pattern()
        found = []
        # a full scan: erase is rare, and a phone hides in free text in many notations
        for row in await run.conn.execute(select(audit).order_by(audit.c.id)):
            if row.target in clients or row.target in chats:
                found.append(row)
            elif pattern is not None and (
                subject.mentions(row.target) or subject.mentions(json.dumps(row.detail, ensure_ascii=False))
            ):
                found.append(row)
        return found

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """Entries about the subject or naming them."""
        return [row_dict(row._mapping) for row in await self._matching(subject, run)]

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Scrub the values of entries about or naming the subject; returns how many changed."""
        clients, chats = self._about(subject)
        changed = 0
        for row in await self._matching(subject, run):
            if row.target in clients:
                target, detail = row.target, _blank(row.detail or {})
            elif row.target in chats:
                target, detail = f"conversation:{ERASED}", _blank(row.detail or {})
            else:
                target, detail = subject.scrub(row.target), _scrubbed(row.detail or {}, subject)
            if (target, detail) != (row.target, row.detail):
                await run.conn.execute(
                    update(audit).where(audit.c.id == row.id).values(target=target, detail=detail)
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
