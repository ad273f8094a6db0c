"""Handoff read models: tickets (the queue and agents' load) and per-conversation facts.

Both are :class:`~bot.store.projections.Projector` s: the event store applies them in the
same transaction as the append that wrote their events, and ``concierge projections
rebuild`` (``EventStore.rebuild_projections``) replays the log into them. So the console
queue, the ledger and agent load read one small row per open conversation instead of
folding whole logs, and the log stays the only truth (every row here can be thrown away
and rebuilt).

- ``handoff_tickets``: each conversation that was ever asked to leave the bot, as
  :func:`handoff.state.ticket` folds it (status, why, who, queued/first response/resolved
  times), plus the latest status event itself and the router's explanation.
- ``conversation_facts``: channel, client, tier, language, when the client first wrote
  and was first answered, the outcome (contained, handed off, resolved), every sentiment
  score of the client's messages (start and end are the first and last) and the last
  client line as the queue previews it; and what :func:`handoff.outcomes.classify` reads
  (real questions, answers and fallbacks, the first handoff's tier and reason, resolution,
  reopen and return gaps, CSAT).
- ``agent_replies``: each agent line meant for the client and the key of its outbox row,
  so first response can count delivered replies only (analytics joins the outbox).

Rows cascade with their conversation (deleting a conversation deletes its read-model
rows). The tables are created by Alembic revisions ``0007`` and ``0008``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy import false as sa_false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.channels.outbox_projection import NOT_SENT, outbox_key
from bot.events import (
    BotUttered,
    CsatRecorded,
    CsatRequested,
    HandoffRequested,
    HandoffStatusChanged,
    SlotSet,
    UserUttered,
    event_from_dict,
)
from bot.store.event_store import EventStore, StoredEvent, split_conversation_id
from bot.store.tables import NAMING_CONVENTION, JSONType, events
from handoff.outcomes import CONFIRM_INTENTS, RETURN_GAP_SECONDS, is_fallback, is_substantive
from handoff.quality_scores import QualityScores, quality_scores
from handoff.state import HandoffStatus, HandoffTicket, fold_ticket

METADATA = MetaData(naming_convention=NAMING_CONVENTION)
# JSON whose Python None is SQL NULL (so "has no status event yet" is a plain IS NULL)
NullableJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

#: how much of the client's last message the queue shows
PREVIEW = 140
CSAT_QUESTION = "utter_ask_csat"  # actions.csat.ASK_RESPONSE (the CSAT question is not an answer)
CLIENT_SLOT = "client_id"  # the slots client recognition sets (handoff.recognition)
TIER_SLOT = "tier"
LANGUAGE_SLOT = "language"

handoff_tickets = Table(
    "handoff_tickets",
    METADATA,
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("detail", Text, nullable=True),
    Column("requested_at", Float, nullable=True),
    Column("queued_at", Float, nullable=True),
    Column("assigned_to", String(64), nullable=True),
    Column("first_response_at", Float, nullable=True),
    Column("resolved_at", Float, nullable=True),
    # a handoff_requested event not yet followed by a move (the fold's carried state)
    Column("pending", NullableJSON, nullable=True),
    # the latest handoff_status event (wire format) and its time: what the ledger returns
    Column("status_event", NullableJSON, nullable=True),
    Column("status_changed_at", Float, nullable=True),
    Column("routing", Text, nullable=True),
    Column("last_seq", Integer, nullable=False),
    # the queue ("every open ticket") and agent load ("assigned, by agent")
    Index("ix_handoff_tickets_status_assigned_to", "status", "assigned_to"),
)

conversation_facts = Table(
    "conversation_facts",
    METADATA,
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("channel", String(64), nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("tier", String(32), nullable=True),
    Column("language", String(16), nullable=True),
    Column("detected_language", String(16), nullable=True),
    Column("first_user_at", Float, nullable=True),
    Column("last_user_at", Float, nullable=True),
    Column("first_response_at", Float, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("handoffs", Integer, nullable=False),
    Column("sentiment_scores", JSONType, nullable=False),
    Column("sentiment_label", String(16), nullable=True),
    Column("last_client_text", Text, nullable=True),
    Column("last_seq", Integer, nullable=False),
    # what handoff.outcomes.classify reads (revision 0008)
    Column("substantive_messages", Integer, nullable=False, server_default="0"),
    Column("answers", Integer, nullable=False, server_default="0"),
    Column("fallbacks", Integer, nullable=False, server_default="0"),
    Column("last_answer_fallback", Boolean, nullable=False, server_default=sa_false()),
    Column("confirmed", Boolean, nullable=False, server_default=sa_false()),
    Column("csat_requested", Boolean, nullable=False, server_default=sa_false()),
    Column("csat_score", Integer, nullable=True),
    Column("queued_at", Float, nullable=True),
    Column("handoff_tier", String(32), nullable=True),
    Column("handoff_reason", Text, nullable=True),
    Column("agent_id", String(64), nullable=True),
    Column("resolved_at", Float, nullable=True),
    Column("reopened_after", Float, nullable=True),
    Column("returned_after", Float, nullable=True),
    # the first and last scores, so reports need not read the whole list
    Column("sentiment_first", Float, nullable=True),
    Column("sentiment_last", Float, nullable=True),
    Index("ix_conversation_facts_first_user_at", "first_user_at"),
)

#: every agent line (``sender: agent``) that was meant to reach the client, with the key of
#: the outbox row it went out as: first response counts DELIVERED replies only, and delivery
#: is the outbox's to say (a push channel's row ``sent``/``delivered``/``read``; a channel
#: whose client reads the log, widget or REST, has no row: stored is delivered)
agent_replies = Table(
    "agent_replies",
    METADATA,
    Column(
        "conversation_id",
        String(255),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("outbox_key", String(300), nullable=False),
)


class ConversationFacts(BaseModel):
    """What a conversation is, in one row: the fold of :func:`conversation_facts_of`."""

    conversation_id: str
    channel: str = ""
    client_id: str | None = None
    tier: str | None = None
    #: the bot's ``language`` slot or the last detected language, whichever came last
    language: str | None = None
    #: the language the NLU last detected in a client message
    detected_language: str | None = None
    first_user_at: float | None = None
    last_user_at: float | None = None
    #: the first reply (bot or person) after the client's first message
    first_response_at: float | None = None
    outcome: str = "contained"  # contained | handed_off | resolved
    handoffs: int = 0
    sentiment_scores: list[float] = Field(default_factory=list)
    sentiment_label: str | None = None
    last_client_text: str | None = None
    last_seq: int = 0
    #: client messages that asked something real (not greetings or chit-chat)
    substantive_messages: int = 0
    #: the bot's real answers after the first real question (fallbacks not counted)
    answers: int = 0
    #: the bot's fallbacks and "I don't know"s after the first real question
    fallbacks: int = 0
    last_answer_fallback: bool = False
    #: the client affirmed or thanked after an answer
    confirmed: bool = False
    csat_requested: bool = False
    csat_score: int | None = None
    #: the first handoff: when it was queued, at which tier, why; the last agent assigned
    queued_at: float | None = None
    handoff_tier: str | None = None
    handoff_reason: str | None = None
    agent_id: str | None = None
    #: the latest resolution, and how long after it the client wrote again (None: not yet)
    resolved_at: float | None = None
    reopened_after: float | None = None
    #: seconds of silence before the client first came back (a gap of RETURN_GAP_SECONDS or more)
    returned_after: float | None = None
    #: ``sentiment_scores[0]`` and ``[-1]`` kept apart for the reports
    sentiment_first: float | None = None
    sentiment_last: float | None = None

    @property
    def sentiment_start(self) -> float | None:
        """The first client message's sentiment score."""
        return self.sentiment_scores[0] if self.sentiment_scores else None

    @property
    def sentiment_end(self) -> float | None:
        """The last client message's sentiment score."""
        return self.sentiment_scores[-1] if self.sentiment_scores else None


class TicketRow(BaseModel):
    """A stored ticket: the folded :class:`HandoffTicket` plus what the queue and ledger read."""

    ticket: HandoffTicket
    pending: HandoffRequested | None = None
    status_event: HandoffStatusChanged | None = None
    routing: str | None = None
    last_seq: int = 0


def preview(user: UserUttered) -> str | None:
    """The queue's one-line view of a client message: its title (e-mail subject) or text, cut."""
    if not user.text:
        return None
    title = user.metadata.get("title")
    text = title if isinstance(title, str) and title else user.text
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def fold_facts(facts: ConversationFacts, stored: Sequence[StoredEvent]) -> ConversationFacts:
    """Continue the facts fold over more events (pure; the projector and tests share it)."""
    f = facts.model_copy(deep=True)
    for item in stored:
        event = item.event
        f.last_seq = max(f.last_seq, item.seq)
        if isinstance(event, UserUttered):
            _client_outcome_facts(f, event)
            if f.first_user_at is None:
                f.first_user_at = event.timestamp
            f.last_user_at = event.timestamp
            if event.parse_data.language:
                f.language = f.detected_language = event.parse_data.language
            sentiment = event.parse_data.sentiment
            if sentiment is not None:
                f.sentiment_scores.append(float(sentiment.score))
                f.sentiment_last = float(sentiment.score)
                if f.sentiment_first is None:
                    f.sentiment_first = f.sentiment_last
                f.sentiment_label = sentiment.label
            f.last_client_text = preview(event) or f.last_client_text
        elif isinstance(event, SlotSet) and event.value:
            if event.name == CLIENT_SLOT:
                f.client_id = str(event.value)
            elif event.name == TIER_SLOT:
                f.tier = str(event.value)
            elif event.name == LANGUAGE_SLOT:
                f.language = str(event.value)
        elif isinstance(event, BotUttered):
            if f.first_response_at is None and f.first_user_at is not None:
                f.first_response_at = event.timestamp
            _bot_outcome_facts(f, event)
        elif isinstance(event, HandoffStatusChanged):
            if event.from_status == HandoffStatus.BOT:
                f.handoffs += 1
                f.outcome = "resolved" if f.outcome == "resolved" else "handed_off"
                if f.queued_at is None:
                    f.queued_at = event.timestamp
                    tier = event.metadata.get("tier")
                    f.handoff_tier = str(tier) if tier else f.tier
                    f.handoff_reason = f.handoff_reason or event.reason
            if event.to_status == HandoffStatus.RESOLVED:
                f.outcome = "resolved"
                f.resolved_at, f.reopened_after = event.timestamp, None
            elif event.to_status == HandoffStatus.ASSIGNED:
                f.agent_id = str(event.metadata.get("agent_id") or event.actor)
        elif isinstance(event, HandoffRequested):
            if f.queued_at is None:  # the request's reason is the first handoff's reason
                f.handoff_reason = event.reason
        elif isinstance(event, CsatRequested):
            f.csat_requested = True
        elif isinstance(event, CsatRecorded):
            f.csat_score = int(event.score)
    return f


def _client_outcome_facts(f: ConversationFacts, event: UserUttered) -> None:
    """A client line's part in the outcome (before ``last_user_at`` moves): real question,
    confirmation, a return after silence, a reopen after a resolution."""
    at = event.timestamp
    if f.resolved_at is not None and f.reopened_after is None and at >= f.resolved_at:
        f.reopened_after = at - f.resolved_at
    gap = at - f.last_user_at if f.last_user_at is not None else 0.0
    if f.returned_after is None and (f.answers or f.handoffs) and gap >= RETURN_GAP_SECONDS:
        f.returned_after = gap
    intent = event.parse_data.intent.name
    if intent in CONFIRM_INTENTS and f.answers and not f.last_answer_fallback:
        f.confirmed = True
    if is_substantive(intent):
        f.substantive_messages += 1


def _bot_outcome_facts(f: ConversationFacts, event: BotUttered) -> None:
    """A bot line's part in the outcome: a real answer or a fallback, once a real question
    was asked (agents' lines and the CSAT question are neither)."""
    sender = event.metadata.get("sender", "bot")
    if sender == "agent" or not f.substantive_messages:
        return
    if event.metadata.get("utter_action") == CSAT_QUESTION:
        return
    if sender == "system" or is_fallback(event.metadata):
        f.fallbacks += 1
        f.last_answer_fallback = True
    else:
        f.answers += 1
        f.last_answer_fallback = False


def facts_events(stored: Sequence[StoredEvent]) -> list[StoredEvent]:
    """The events the facts depend on (client and bot lines, handoff requests and status
    changes, CSAT, three slots)."""
    follows = ConversationFactsProjector.handles
    slots = {CLIENT_SLOT, TIER_SLOT, LANGUAGE_SLOT}
    return [
        s
        for s in stored
        if s.event.event in follows and (not isinstance(s.event, SlotSet) or s.event.name in slots)
    ]


def conversation_facts_of(conversation_id: str, stored: Sequence[StoredEvent]) -> ConversationFacts | None:
    """The facts of a conversation folded from its whole log (what the read model must equal);
    None when no event it follows was ever written."""
    relevant = facts_events(stored)
    if not relevant:
        return None
    start = ConversationFacts(
        conversation_id=conversation_id, channel=split_conversation_id(conversation_id)[0]
    )
    return fold_facts(start, relevant)


def fold_ticket_row(row: TicketRow, stored: Sequence[StoredEvent]) -> TicketRow:
    """Continue a stored ticket over more events (pure; the projector and tests share it)."""
    events = [s.event for s in stored]
    ticket, pending = fold_ticket(row.ticket, row.pending, events)
    status_event, routing = row.status_event, row.routing
    for event in events:
        if isinstance(event, HandoffStatusChanged):
            status_event = event
            explanation = event.metadata.get("routing") or event.metadata.get("explanation")
            if isinstance(explanation, str):
                routing = explanation
    last_seq = max([row.last_seq, *(s.seq for s in stored)])
    return TicketRow(
        ticket=ticket, pending=pending, status_event=status_event, routing=routing, last_seq=last_seq
    )


def ticket_events(stored: Sequence[StoredEvent]) -> list[StoredEvent]:
    """The events a ticket depends on: handoff requests and moves, and the agents' lines
    (the bot's own lines never move a ticket)."""
    return [
        s
        for s in stored
        if s.event.event in HandoffTickets.handles
        and (not isinstance(s.event, BotUttered) or s.event.metadata.get("sender") == "agent")
    ]


def ticket_row_of(conversation_id: str, stored: Sequence[StoredEvent]) -> TicketRow | None:
    """A conversation's ticket folded from its whole log (what the read model must equal);
    None when the conversation was never asked to leave the bot. Agents' lines before the
    first request or move change nothing, so the fold starts at the first of those."""
    relevant = _from_first_move(ticket_events(stored))
    if not relevant:
        return None
    start = TicketRow(ticket=HandoffTicket(conversation_id=conversation_id, status=HandoffStatus.BOT))
    return fold_ticket_row(start, relevant)


def _from_first_move(stored: list[StoredEvent]) -> list[StoredEvent]:
    """``stored`` from its first handoff request or move on (empty when it has none)."""
    first = next((i for i, s in enumerate(stored) if not isinstance(s.event, BotUttered)), len(stored))
    return stored[first:]


async def _upsert(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> None:
    """Insert or update the conversation's row; the statement is built once per table and
    column set (building an upsert's ``excluded`` columns cost more than running it)."""
    await conn.execute(_upsert_statement(conn.dialect.name, table, tuple(values)), values)


@lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(table)
    key = "conversation_id"
    return stmt.on_conflict_do_update(
        index_elements=[table.c[key]], set_={k: stmt.excluded[k] for k in columns if k != key}
    )


def _wire(event: Any) -> dict[str, Any] | None:
    return None if event is None else event.to_dict()


def ticket_from_row(row: Any) -> TicketRow:
    """A ``handoff_tickets`` row as a :class:`TicketRow`."""
    ticket = HandoffTicket(
        conversation_id=row.conversation_id,
        status=HandoffStatus(row.status),
        reason=row.reason,
        detail=row.detail,
        requested_at=row.requested_at,
        queued_at=row.queued_at,
        assigned_to=row.assigned_to,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
    )
    pending = event_from_dict(row.pending) if row.pending else None
    status_event = event_from_dict(row.status_event) if row.status_event else None
    return TicketRow(
        ticket=ticket,
        pending=pending if isinstance(pending, HandoffRequested) else None,
        status_event=status_event if isinstance(status_event, HandoffStatusChanged) else None,
        routing=row.routing,
        last_seq=row.last_seq,
    )


class HandoffTickets:
    """Projector of ``handoff_tickets`` (follows requests, status changes and agents' replies)."""

    name = "handoff_tickets"
    handles = frozenset({"handoff_requested", "handoff_status", "bot"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Fold the new events into the conversation's ticket row."""
        relevant = ticket_events(stored)  # the bot's own lines: most turns cost no query here
        if not relevant:
            return
        found = (
            await conn.execute(
                select(handoff_tickets).where(handoff_tickets.c.conversation_id == conversation_id)
            )
        ).first()
        if found is None:
            relevant = _from_first_move(relevant)
            if not relevant:
                return  # an agent's line in a conversation that never left the bot: no ticket
            row = TicketRow(ticket=HandoffTicket(conversation_id=conversation_id, status=HandoffStatus.BOT))
        else:
            row = ticket_from_row(found)
        new = fold_ticket_row(row, relevant)
        t = new.ticket
        values = {
            "conversation_id": conversation_id,
            "status": str(t.status),
            "reason": t.reason,
            "detail": t.detail,
            "requested_at": t.requested_at,
            "queued_at": t.queued_at,
            "assigned_to": t.assigned_to,
            "first_response_at": t.first_response_at,
            "resolved_at": t.resolved_at,
            "pending": _wire(new.pending),
            "status_event": _wire(new.status_event),
            "status_changed_at": new.status_event.timestamp if new.status_event else None,
            "routing": new.routing,
            "last_seq": new.last_seq,
        }
        await _upsert(conn, handoff_tickets, values)

    async def reset(self, conn: AsyncConnection) -> None:
        """Delete every ticket row (a rebuild replays the log)."""
        await conn.execute(handoff_tickets.delete())


def facts_from_row(row: Any) -> ConversationFacts:
    """A ``conversation_facts`` row as :class:`ConversationFacts`."""
    return ConversationFacts.model_validate(dict(row._mapping))


class ConversationFactsProjector:
    """Projector of ``conversation_facts`` (follows client and bot lines, slots, status changes)."""

    name = "conversation_facts"
    handles = frozenset(
        {"user", "slot", "bot", "handoff_status", "handoff_requested", "csat_requested", "csat_recorded"}
    )

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Fold the new events into the conversation's facts row."""
        relevant = facts_events(stored)
        if not relevant:
            return
        found = (
            await conn.execute(
                select(conversation_facts).where(conversation_facts.c.conversation_id == conversation_id)
            )
        ).first()
        if found is None:
            start = ConversationFacts(
                conversation_id=conversation_id, channel=split_conversation_id(conversation_id)[0]
            )
        else:
            start = facts_from_row(found)
        new = fold_facts(start, relevant)
        if new == start:
            return
        await _upsert(conn, conversation_facts, new.model_dump())

    async def reset(self, conn: AsyncConnection) -> None:
        """Delete every facts row (a rebuild replays the log)."""
        await conn.execute(conversation_facts.delete())


def agent_reply_rows(conversation_id: str, stored: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """The ``agent_replies`` rows of ``stored``: agents' lines meant to reach the client."""
    return [
        {
            "conversation_id": conversation_id,
            "seq": s.seq,
            "at": s.event.timestamp,
            "agent_id": str(s.event.metadata.get("agent_id") or "") or None,
            "outbox_key": outbox_key(conversation_id, s.seq),
        }
        for s in stored
        if isinstance(s.event, BotUttered)
        and s.event.metadata.get("sender") == "agent"
        and not s.event.metadata.get(NOT_SENT)
    ]


class AgentReplies:
    """Projector of ``agent_replies`` (follows bot lines; keeps the agents' ones)."""

    name = "agent_replies"
    handles = frozenset({"bot"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Insert a row per new agent line (a line's seq is fixed, so a row never changes)."""
        rows = agent_reply_rows(conversation_id, stored)
        if rows:
            insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(insert(agent_replies).values(rows).on_conflict_do_nothing())

    async def reset(self, conn: AsyncConnection) -> None:
        """Delete every row (a rebuild replays the log)."""
        await conn.execute(agent_replies.delete())


def handoff_projectors() -> list[HandoffTickets | ConversationFactsProjector | AgentReplies | QualityScores]:
    """The read models handoff and the console read, for the wiring code to register."""
    return [HandoffTickets(), ConversationFactsProjector(), AgentReplies(), QualityScores()]


async def register_handoff_projections(store: EventStore) -> None:
    """Keep the handoff read models in step with ``store`` (the wiring code calls this once).

    A database whose log predates the read models (revision 0007 added them to a database
    with history) is backfilled from the log here, once: the facts table is empty while
    the log is not; likewise the quality scores (revision 0018) when a conversation was
    resolved and none is scored.
    """
    registered = {p.name for p in store.projectors}
    for projector in handoff_projectors():
        if projector.name not in registered:
            store.add_projector(projector)
    async with store.engine.connect() as conn:
        has_facts = (await conn.execute(select(conversation_facts.c.conversation_id).limit(1))).first()
        has_events = (await conn.execute(select(events.c.id).limit(1))).first()
        has_scores = (await conn.execute(select(quality_scores.c.conversation_id).limit(1))).first()
        resolved = (
            await conn.execute(
                select(handoff_tickets.c.conversation_id)
                .where(handoff_tickets.c.resolved_at.is_not(None))
                .limit(1)
            )
        ).first()
    if has_events is not None and has_facts is None:
        await store.rebuild_projections(
            [HandoffTickets.name, ConversationFactsProjector.name, AgentReplies.name, QualityScores.name]
        )
    elif resolved is not None and has_scores is None:
        # revision 0018 added the quality scores to a database with resolved conversations
        await store.rebuild_projections([QualityScores.name])
