"""The ``quality_scores`` read model: every resolved conversation's replies scored by the rules.

When a conversation is resolved (a ``handoff_status`` move to ``resolved``), the projector
reads the conversation's lines up to that event from the log, in the append's transaction,
and stores one row per speaker who replied: the bot, and the agent who replied last (the
one the per-agent view credits, as analytics credits the last agent assigned). A reopened
conversation resolved again is scored again, over everything up to the new resolution.

Resolutions are rare next to turns, so a turn costs nothing here (the projector follows
status changes only). The rows are the rules' verdicts (:mod:`handoff.quality`): they are
a pure function of the log, so ``concierge projections rebuild`` gives the same rows back.
An LLM judge's verdicts are not stored here (they are not a function of the log); the
console asks it per conversation when one is configured.

Conversations the bot kept to the end (never handed off, so never resolved) have no row:
nothing in the log says when they ended (docs/analytics.md, "Known limits").
The table is created by Alembic revision ``0018``; rows cascade with their conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events import BotUttered, HandoffStatus, HandoffStatusChanged, events_from_dicts
from bot.store.event_store import StoredEvent
from bot.store.tables import NAMING_CONVENTION, JSONType, events
from bot.transcript import transcript_entry
from handoff.quality import CategoryScore, Speaker, score_conversation

METADATA = MetaData(naming_convention=NAMING_CONVENTION)
#: the most recent lines scored (a bound on a very long conversation's cost, in the append)
MAX_LINES = 400
#: the events a score reads: the lines, and status changes for who was assigned
READS = ("user", "bot", "handoff_status")

quality_scores = Table(
    "quality_scores",
    METADATA,
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("speaker", String(8), primary_key=True),
    Column("agent_id", String(64), nullable=True),
    Column("resolved_at", Float, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("replies", Integer, nullable=False),
    Column("overall", Float, nullable=True),
    # [{category, score, reason, source}], in handoff.quality.CATEGORIES order
    Column("categories", JSONType, nullable=False),
    Index("ix_quality_scores_agent_id", "agent_id"),
)


class StoredScore(BaseModel):
    """One row: a speaker's replies in a resolved conversation, scored by the rules."""

    conversation_id: str
    speaker: Speaker
    agent_id: str | None
    resolved_at: float
    seq: int
    replies: int
    overall: float | None
    categories: list[CategoryScore]


def _resolution(stored: Sequence[StoredEvent]) -> StoredEvent | None:
    """The last move to ``resolved`` among ``stored``."""
    found = [
        s
        for s in stored
        if isinstance(s.event, HandoffStatusChanged) and s.event.to_status == HandoffStatus.RESOLVED
    ]
    return found[-1] if found else None


def _last_agent(stored: Sequence[StoredEvent]) -> str | None:
    """The agent of the last agent line, else the last one assigned."""
    for item in reversed(stored):
        event = item.event
        if isinstance(event, BotUttered) and event.metadata.get("sender") == "agent":
            agent = event.metadata.get("agent_id")
            if agent:
                return str(agent)[:64]
    for item in reversed(stored):
        event = item.event
        if isinstance(event, HandoffStatusChanged) and event.to_status == HandoffStatus.ASSIGNED:
            return str(event.metadata.get("agent_id") or event.actor)[:64]
    return None


def scores_of(conversation_id: str, stored: Sequence[StoredEvent]) -> list[StoredScore]:
    """The rows for a conversation's log (what the read model must hold): scored up to its
    last resolution, one row per speaker who replied; none when it was never resolved."""
    resolution = _resolution(stored)
    if resolution is None:
        return []
    upto = [s for s in stored if s.seq <= resolution.seq]
    lines = [e for s in upto if (e := transcript_entry(s.seq, s.event)) is not None][-MAX_LINES:]
    rows = []
    for speaker in ("bot", "agent"):
        score = score_conversation(lines, speaker)  # type: ignore[arg-type]
        if not score.replies:
            continue
        rows.append(
            StoredScore(
                conversation_id=conversation_id,
                speaker=score.speaker,
                agent_id=_last_agent(upto) if speaker == "agent" else None,
                resolved_at=resolution.event.timestamp,
                seq=resolution.seq,
                replies=score.replies,
                overall=score.overall,
                categories=score.categories,
            )
        )
    return rows


class QualityScores:
    """Projector of ``quality_scores`` (follows status changes; scores at each resolution)."""

    name = "quality_scores"
    handles = frozenset({"handoff_status"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """On a resolution, score the conversation's lines up to it (read on ``conn``: the
        appended events are already in the table) and replace its rows."""
        resolution = _resolution(stored)
        if resolution is None:
            return
        rows = (
            await conn.execute(
                select(events.c.seq, events.c.data)
                .where(
                    events.c.conversation_id == conversation_id,
                    events.c.seq <= resolution.seq,
                    events.c.type.in_(READS),
                )
                .order_by(events.c.seq)
            )
        ).all()
        log = [
            StoredEvent(row.seq, event)
            for row, event in zip(rows, events_from_dicts([row.data for row in rows]), strict=True)
        ]
        scores = scores_of(conversation_id, log)
        await conn.execute(quality_scores.delete().where(quality_scores.c.conversation_id == conversation_id))
        if scores:
            await conn.execute(quality_scores.insert(), [_row(s) for s in scores])

    async def reset(self, conn: AsyncConnection) -> None:
        """Delete every row (a rebuild replays the log)."""
        await conn.execute(quality_scores.delete())


def _row(score: StoredScore) -> dict[str, Any]:
    values = score.model_dump()
    values["categories"] = [c.model_dump() for c in score.categories]
    return values


def score_from_row(row: Any) -> StoredScore:
    """A ``quality_scores`` row as a :class:`StoredScore`."""
    return StoredScore.model_validate(dict(row._mapping))


async def stored_scores(conn: AsyncConnection, conversation_id: str) -> list[StoredScore]:
    """A conversation's stored rows (bot first)."""
    rows = (
        await conn.execute(
            select(quality_scores)
            .where(quality_scores.c.conversation_id == conversation_id)
            .order_by(quality_scores.c.speaker.desc())
        )
    ).all()
    return [score_from_row(r) for r in rows]
