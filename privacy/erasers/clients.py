"""The client profiles' part: the profile, its identities, visits and notes.

A profile (name, birthday, membership, preferences), every identity (phone, e-mail,
social ids), every visit (what was done, where, for how much) and every internal note
are the client's. Erase deletes them for the client and every profile merged into it;
a note on another profile that names the client (e.g. "merged with client ... (name)")
is scrubbed. A profile's time to live (``profiles_days`` per tier, from the client's last
activity) is not this eraser's to apply row by row: a stale profile takes everything about
the client with it, so the retention run erases it as an erase request
(:func:`privacy.retention.stale_profiles`, :meth:`privacy.service.PrivacyService.finish_erasure`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from handoff.tables import client_identities, client_notes, client_visits, clients
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked, row_dict
from privacy.subject import DataSubject

CHILDREN = (client_identities, client_visits, client_notes)


class ClientEraser:
    """``clients``, ``client_identities``, ``client_visits``, ``client_notes`` (handoff/tables.py)."""

    name = "client_profiles"

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """Each profile (the client and those merged into it) with identities, visits and notes."""
        out: list[dict[str, Any]] = []
        for ids in chunked(subject.client_ids):
            rows = await run.conn.execute(select(clients).where(clients.c.id.in_(ids)).order_by(clients.c.id))
            profiles = {row.id: row_dict(row._mapping) for row in rows}
            for table in CHILDREN:
                key = table.name.removeprefix("client_")
                for profile in profiles.values():
                    profile[key] = []
                for row in await run.conn.execute(
                    select(table).where(table.c.client_id.in_(ids)).order_by(table.c.id)
                ):
                    profiles[row.client_id][key].append(row_dict(row._mapping))
            out += list(profiles.values())
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete the profiles and everything hanging off them; scrub other profiles' notes
        that name the client. Returns rows deleted or scrubbed."""
        removed = 0
        for ids in chunked(subject.client_ids):
            for table in CHILDREN:
                result = await run.conn.execute(delete(table).where(table.c.client_id.in_(ids)))
                removed += result.rowcount or 0
            # merged-away rows point at the survivor: unhook them first (self-reference)
            await run.conn.execute(update(clients).where(clients.c.id.in_(ids)).values(merged_into=None))
            result = await run.conn.execute(delete(clients).where(clients.c.id.in_(ids)))
            removed += result.rowcount or 0
        pattern = subject.pattern()
        if subject.client_ids and pattern is not None:
            for row in await run.conn.execute(select(client_notes.c.id, client_notes.c.text)):
                scrubbed = subject.scrub(row.text)
                for client_id in subject.client_ids:
                    scrubbed = scrubbed.replace(client_id, "[erased]")
                if scrubbed != row.text:
                    await run.conn.execute(
                        update(client_notes).where(client_notes.c.id == row.id).values(text=scrubbed)
                    )
                    removed += 1
        return removed

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Nothing row by row: stale profiles are erased whole (see the module docstring)."""
        return 0
