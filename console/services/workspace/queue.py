"""The live queue: every open handoff (waiting or with an agent), ranked by ``handoff.queue``.

Which conversations are open comes from the handoff ledger (each conversation's latest
``handoff_status`` event, one query); each one's tier, sentiment, reason, language and SLA
clock come from its own log and client profile, and the order from
:func:`handoff.queue.rank_item`, the same priority the router uses. Conversations an agent
already holds are listed too (after the waiting ones), so a manager sees the whole floor.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.events import Event, HandoffStatusChanged, UserUttered
from bot.sentiment.trajectory import trajectory
from bot.store.event_store import split_conversation_id
from console.services.workspace.models import QueueEntry, QueueView
from handoff.clients import ClientProfile
from handoff.queue import QueueItem, RankedItem, rank_item
from handoff.runtime import HandoffRuntime
from handoff.state import HandoffStatus, HandoffTicket, ticket
from handoff.triggers import sentiment_scores

OPEN = (HandoffStatus.QUEUED, HandoffStatus.ASSIGNED)
PREVIEW = 140


def _language(events: Sequence[Event], client: ClientProfile | None) -> str | None:
    found = next(
        (
            e.parse_data.language
            for e in reversed(events)
            if isinstance(e, UserUttered) and e.parse_data.language
        ),
        None,
    )
    return found or (client.language if client else None)


def _last_client_text(events: Sequence[Event]) -> str | None:
    for event in reversed(events):
        if isinstance(event, UserUttered) and event.text:
            title = event.metadata.get("title")
            text = title if isinstance(title, str) and title else event.text
            return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"
    return None


def _routing(events: Sequence[Event]) -> str | None:
    """The router's explanation recorded when the conversation was handed off."""
    for event in reversed(events):
        if isinstance(event, HandoffStatusChanged):
            explanation = event.metadata.get("routing") or event.metadata.get("explanation")
            if isinstance(explanation, str):
                return explanation
    return None


def _sentiment_label(events: Sequence[Event]) -> str | None:
    for event in reversed(events):
        if isinstance(event, UserUttered) and event.parse_data.sentiment is not None:
            return event.parse_data.sentiment.label
    return None


def _answered(current: HandoffTicket) -> bool:
    """A person has replied since the handoff (the first-response SLA is met)."""
    return current.first_response_at is not None


class QueueBuilder:
    """Builds :class:`QueueView` from the ledger, the logs and the client store."""

    def __init__(self, runtime: HandoffRuntime) -> None:
        self.runtime = runtime

    def agent_name(self, agent_id: str | None) -> str | None:
        """The roster name of an agent id (the id itself when not on the roster)."""
        if agent_id is None:
            return None
        profile = self.runtime.roster.get(agent_id)
        return profile.name if profile else agent_id

    async def entry(self, conversation_id: str, events: Sequence[Event], now: float) -> QueueEntry | None:
        """The queue's line for one conversation, or None when it is not open."""
        current = ticket(conversation_id, events)
        if current.status not in OPEN or current.queued_at is None:
            return None
        client = await self.runtime.client_for(conversation_id)
        config = self.runtime.config
        path = trajectory(sentiment_scores(events), config.triggers.sentiment)
        category = client.recent_visits[0].category if client and client.recent_visits else None
        item = QueueItem(
            conversation_id=conversation_id,
            tier=client.tier if client else config.tiers.default,
            queued_at=current.queued_at,
            sentiment=path.latest,
            reason=current.reason,
            language=_language(events, client),
            category=category,
            client_name=client.display_name if client else None,
        )
        ranked: RankedItem = rank_item(item, now, config)
        channel, _ = split_conversation_id(conversation_id)
        return QueueEntry(
            conversation_id=conversation_id,
            channel=channel,
            status=current.status,
            tier=item.tier,
            client_name=item.client_name,
            reason=current.reason,
            reason_detail=current.detail,
            language=item.language,
            sentiment=item.sentiment,
            sentiment_label=_sentiment_label(events),
            assigned_to=current.assigned_to,
            assigned_name=self.agent_name(current.assigned_to),
            queued_at=current.queued_at,
            deadline=ranked.deadline,
            seconds_left=ranked.seconds_left,
            overdue=ranked.overdue and not _answered(current),
            answered=_answered(current),
            priority=ranked.priority,
            explanation=ranked.explanation,
            last_message=_last_client_text(events),
            suggestion=_routing(events),
        )

    async def build(self, now: float | None = None) -> QueueView:
        """Every open handoff: waiting ones by priority, then held ones by priority."""
        at = self.runtime.clock() if now is None else now
        latest = await self.runtime.ledger.latest()
        entries: list[QueueEntry] = []
        for conversation_id, change in latest.items():
            if change.to_status not in OPEN:
                continue
            events = await self.runtime.engine.store.events(conversation_id)
            entry = await self.entry(conversation_id, events, at)
            if entry is not None:
                entries.append(entry)
        entries.sort(
            key=lambda e: (
                e.status != HandoffStatus.QUEUED,
                -e.priority,
                e.deadline,
                e.queued_at,
                e.conversation_id,
            )
        )
        return QueueView(now=at, entries=entries)
