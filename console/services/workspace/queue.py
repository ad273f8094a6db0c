"""The live queue: every open handoff (waiting or with an agent), ranked by ``handoff.queue``.

Read from the handoff read models (:mod:`handoff.projections`), never from whole logs:
the open tickets and each one's conversation facts (language, sentiment scores, last
client line) come from ONE query over ``handoff_tickets`` joined with
``conversation_facts``; each distinct client's profile is one read by id (several at a
time on PostgreSQL). The order: a priority an automation rule set (``set_priority``, a
``conversation_labels`` row read in the same query; urgent, high, normal or none, low;
it lasts the handoff it was set for, :mod:`automation.labels`)
first, then :func:`handoff.queue.rank_item`, the same priority the router uses.
Conversations an agent already holds are listed too (after the waiting ones), so a
manager sees the whole floor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, and_, select

from automation.labels import PRIORITY_LABEL
from automation.tables import conversation_labels
from bot.sentiment.trajectory import trajectory
from bot.store.event_store import split_conversation_id
from console.services.workspace.models import QueueEntry, QueueView, RulePriority
from handoff.clients import ClientNotFound, ClientProfile
from handoff.projections import (
    ConversationFacts,
    TicketRow,
    conversation_facts,
    handoff_tickets,
    ticket_from_row,
)
from handoff.queue import QueueItem, RankedItem, rank_item
from handoff.runtime import HandoffRuntime
from handoff.state import HandoffStatus

OPEN = (HandoffStatus.QUEUED, HandoffStatus.ASSIGNED)
#: client profiles read at once per queue build on PostgreSQL (within the pool's size)
PARALLEL_READS = 4
#: facts columns read with the ticket (prefixed so they do not clash with the ticket's)
_FACTS = [c.label(f"f_{c.name}") for c in conversation_facts.c]
_FACT_NAMES = [(c.name, f"f_{c.name}") for c in conversation_facts.c]
#: how long a client profile read for the queue is reused (the live queue rebuilds often;
#: a tier or name changed in the console shows within this time)
PROFILE_TTL_SECONDS = 5.0
#: rank of a rule's priority in the queue (no rule: as "normal")
RULE_RANK: dict[str | None, int] = {"urgent": 0, "high": 1, "normal": 2, None: 2, "low": 3}


def _facts(row: Row[Any], conversation_id: str) -> ConversationFacts:
    """The facts half of a ticket row joined with its facts (defaults when it has none yet)."""
    mapping = row._mapping
    if mapping["f_conversation_id"] is None:
        channel = split_conversation_id(conversation_id)[0]
        return ConversationFacts(conversation_id=conversation_id, channel=channel)
    return ConversationFacts.model_validate({name: mapping[label] for name, label in _FACT_NAMES})


class QueueBuilder:
    """Builds :class:`QueueView` from the ledger, the logs and the client store."""

    def __init__(self, runtime: HandoffRuntime, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.monotonic = monotonic
        # (client id, or "" and the conversation for an unrecognised one) -> (profile, read at)
        self._profiles: dict[tuple[str | None, str], tuple[ClientProfile | None, float]] = {}

    def agent_name(self, agent_id: str | None) -> str | None:
        """The roster name of an agent id (the id itself when not on the roster)."""
        if agent_id is None:
            return None
        profile = self.runtime.roster.get(agent_id)
        return profile.name if profile else agent_id

    async def client(self, facts: ConversationFacts) -> ClientProfile | None:
        """The client behind a conversation: the one its turns recognised (the ``client_id``
        slot), else the known owner of its sender id; None for an anonymous conversation."""
        runtime = self.runtime
        if facts.client_id:
            try:
                return await runtime.clients.get(facts.client_id)
            except ClientNotFound:
                pass  # merged away or deleted since: fall back to the sender id
        channel, sender_id = split_conversation_id(facts.conversation_id)
        return await runtime.recognition.for_conversation(channel, sender_id)

    async def clients(self, facts: Sequence[ConversationFacts]) -> list[ClientProfile | None]:
        """:meth:`client` for many conversations: each distinct client (or sender) read once,
        several at a time on PostgreSQL (one at a time on SQLite, whose writer they would
        only queue behind)."""
        parallel = asyncio.Semaphore(1 if self.runtime.store.dialect == "sqlite" else PARALLEL_READS)
        found: dict[tuple[str | None, str], asyncio.Task[ClientProfile | None]] = {}

        now = self.monotonic()
        fresh = {k: v for k, v in self._profiles.items() if now - v[1] < PROFILE_TTL_SECONDS}

        async def one(item: ConversationFacts) -> ClientProfile | None:
            async with parallel:
                return await self.client(item)

        keys = []
        for item in facts:
            key = (item.client_id, "" if item.client_id else item.conversation_id)
            if key not in found and key not in fresh:
                found[key] = asyncio.ensure_future(one(item))
            keys.append(key)
        await asyncio.gather(*found.values())
        fresh.update({key: (task.result(), now) for key, task in found.items()})
        self._profiles = fresh  # only what this build saw or is still fresh: bounded by the queue
        return [fresh[key][0] for key in keys]

    def entry(
        self,
        row: TicketRow,
        facts: ConversationFacts,
        now: float,
        client: ClientProfile | None,
        rule_priority: RulePriority | None = None,
    ) -> QueueEntry | None:
        """The queue's line for one conversation (its client already read), or None when it
        is not open."""
        current = row.ticket
        if current.status not in OPEN or current.queued_at is None:
            return None
        config = self.runtime.config
        path = trajectory(facts.sentiment_scores, config.triggers.sentiment)
        category = client.recent_visits[0].category if client and client.recent_visits else None
        item = QueueItem(
            conversation_id=current.conversation_id,
            tier=client.tier if client else config.tiers.default,
            queued_at=current.queued_at,
            sentiment=path.latest,
            reason=current.reason,
            language=facts.detected_language or (client.language if client else None),
            category=category,
            client_name=client.display_name if client else None,
        )
        ranked: RankedItem = rank_item(item, now, config)
        answered = current.first_response_at is not None  # a person replied: the SLA is met
        return QueueEntry(
            conversation_id=current.conversation_id,
            channel=split_conversation_id(current.conversation_id)[0],
            status=current.status,
            tier=item.tier,
            client_name=item.client_name,
            reason=current.reason,
            reason_detail=current.detail,
            language=item.language,
            sentiment=item.sentiment,
            sentiment_label=facts.sentiment_label,
            assigned_to=current.assigned_to,
            assigned_name=self.agent_name(current.assigned_to),
            queued_at=current.queued_at,
            deadline=ranked.deadline,
            seconds_left=ranked.seconds_left,
            overdue=ranked.overdue and not answered,
            answered=answered,
            priority=ranked.priority,
            explanation=(f"rule priority {rule_priority}; " if rule_priority else "") + ranked.explanation,
            last_message=facts.last_client_text,
            suggestion=row.routing,
            rule_priority=rule_priority,
        )

    async def build(self, now: float | None = None) -> QueueView:
        """Every open handoff: waiting ones by priority, then held ones by priority."""
        at = self.runtime.clock() if now is None else now
        labels = conversation_labels.c
        stmt = (
            select(handoff_tickets, *_FACTS, labels.value.label("rule_priority"))
            .select_from(
                handoff_tickets.outerjoin(
                    conversation_facts,
                    conversation_facts.c.conversation_id == handoff_tickets.c.conversation_id,
                ).outerjoin(
                    conversation_labels,
                    and_(
                        labels.conversation_id == handoff_tickets.c.conversation_id,
                        labels.label == PRIORITY_LABEL,
                    ),
                )
            )
            .where(handoff_tickets.c.status.in_([s.value for s in OPEN]))
        )
        async with self.runtime.store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        tickets = [ticket_from_row(row) for row in rows]
        facts = [_facts(row, row.conversation_id) for row in rows]
        priorities = [row.rule_priority if row.rule_priority in RULE_RANK else None for row in rows]
        entries: list[QueueEntry] = []
        for ticket, fact, client, set_by_rule in zip(
            tickets, facts, await self.clients(facts), priorities, strict=True
        ):
            entry = self.entry(ticket, fact, at, client, set_by_rule)
            if entry is not None:
                entries.append(entry)
        entries.sort(
            key=lambda e: (
                e.status != HandoffStatus.QUEUED,
                RULE_RANK[e.rule_priority],
                -e.priority,
                e.deadline,
                e.queued_at,
                e.conversation_id,
            )
        )
        return QueueView(now=at, entries=entries)
