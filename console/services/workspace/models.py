"""What the agent workspace's API takes and returns (pydantic at the console boundary).

Views (``*View``, ``QueueEntry``, ``WorkspaceLine``) are read models built from the event
log and the client store; request bodies (``*Request``) are what the console's JavaScript
sends. Table rows and engine objects never leave the service layer.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from bot.models import ContactHints
from handoff.agents import AgentStatus
from handoff.config import Tier
from handoff.packet import HandoffPacket
from handoff.state import HandoffStatus

MAX_REPLY = 4000
MAX_NOTE = 2000
MAX_REASON = 200

LineKind = Literal["client", "bot", "agent", "system", "note", "event"]
#: the priority an automation rule set (``set_priority``; ``conversation_labels``)
RulePriority = Literal["low", "normal", "high", "urgent"]


class QueueEntry(BaseModel):
    """One open handoff (queued or assigned) as the live queue shows it.

    ``deadline`` is the first-response SLA deadline (epoch seconds); ``seconds_left`` is
    computed at ``now`` and the page keeps counting down from it. ``answered`` is True once
    a person has replied, after which the SLA no longer applies. ``rule_priority`` is what
    a rule set (None: no rule did); it ranks ahead of ``priority``.
    """

    conversation_id: str
    channel: str
    status: HandoffStatus
    tier: Tier
    client_name: str | None
    reason: str | None
    reason_detail: str | None
    language: str | None
    sentiment: float | None
    sentiment_label: str | None
    assigned_to: str | None
    assigned_name: str | None
    queued_at: float
    deadline: float
    seconds_left: float
    overdue: bool
    answered: bool
    priority: float
    explanation: str
    last_message: str | None
    suggestion: str | None = None
    rule_priority: RulePriority | None = None


class QueueView(BaseModel):
    """The whole queue at ``now``, highest priority first."""

    now: float
    entries: list[QueueEntry]


class WorkspaceLine(BaseModel):
    """One line of the agent's transcript: what people said, internal notes and handoff events.

    ``seq`` is the event's number in the conversation's log (lines arrive in ``seq``
    order and a reconnecting page asks for everything after the last one it shows).
    """

    seq: int
    kind: LineKind
    text: str | None
    timestamp: float
    author: str | None = None
    sentiment: float | None = None
    sentiment_label: str | None = None
    intent: str | None = None
    buttons: list[str] = Field(default_factory=list)


class VisitView(BaseModel):
    """A past visit on the client card."""

    visited_on: date
    category: str
    service: str
    location: str | None
    amount: float
    currency: str
    staff: str | None


class NoteView(BaseModel):
    """A note on the client's profile."""

    author: str
    text: str
    created_at: str


class ClientCardView(BaseModel):
    """The client card: who the client is, how we know them and what they like."""

    id: str
    name: str
    first_name: str
    tier: Tier
    tier_reason: str
    language: str | None
    concierge_agent_id: str | None
    concierge_name: str | None
    home_location: str | None
    membership: str | None
    birthday: date | None
    visit_count: int
    visits_12m: int
    spend_12m: float
    first_visit: date | None
    recent_visits: list[VisitView]
    preferences: dict[str, str]
    notes: list[NoteView]
    milestones: list[str]
    channels: list[str]


class SentimentPoint(BaseModel):
    """One client message's sentiment, for the trajectory on the client card."""

    seq: int
    score: float
    label: str | None


class CsatView(BaseModel):
    """The latest CSAT question and answer of the conversation, if any."""

    requested_at: float | None = None
    score: int | None = None
    recorded_at: float | None = None


class ConversationView(BaseModel):
    """Everything the conversation page shows when it opens.

    ``holder_is_you`` tells the page whether the reply box is live; ``allowed`` lists the
    actions this user may take now (``claim``, ``assign``, ``transfer``, ``resolve``,
    ``return``, ``reply``).
    """

    conversation_id: str
    channel: str
    status: HandoffStatus
    assigned_to: str | None
    assigned_name: str | None
    holder_is_you: bool
    allowed: list[str]
    lines: list[WorkspaceLine]
    last_seq: int
    packet: HandoffPacket | None
    client: ClientCardView | None
    sentiment: list[SentimentPoint]
    sentiment_trend: str | None
    routing: str | None
    csat: CsatView
    language: str | None
    #: contact details the client claimed but no channel proved: shown labelled, never trusted
    unverified_contact: ContactHints | None = None


class KnowledgePassage(BaseModel):
    """A knowledge base passage suggested to the agent, with its source and scores."""

    article_id: str
    title: str
    text: str
    score: float
    dense: float
    lexical: float
    language: str


class SuggestionsView(BaseModel):
    """Knowledge passages for the client's latest messages and a suggested reply.

    ``reply_mode`` is ``extractive`` (sentences from the articles) or ``llm`` (a draft
    grounded in them, when an LLM is configured); ``reply`` is None when the knowledge
    base has no confident answer.
    """

    query: str
    language: str | None
    passages: list[KnowledgePassage]
    reply: str | None
    reply_mode: str
    reply_sources: list[str]
    available: bool = True


class AgentView(BaseModel):
    """An agent on the roster with their live status and load."""

    id: str
    name: str
    status: AgentStatus
    active_chats: int
    max_chats: int
    languages: list[str]
    skills: list[str]


class MeView(BaseModel):
    """The signed-in user as the workspace needs them."""

    username: str
    display_name: str
    role: str
    agent_id: str | None
    actor_id: str
    status: AgentStatus | None
    can_assign: bool


class DeliveryView(BaseModel):
    """What became of an agent's reply: stored always; ``delivered`` False with the channel's error."""

    seq: int
    channel: str
    delivered: bool
    queued: bool = False
    error: str | None = None
    error_kind: str | None = None


class ActionResult(BaseModel):
    """The conversation after an action; ``delivery`` says how the reply (or, after resolve and
    return, the CSAT question) reached the client's channel."""

    conversation: ConversationView
    csat_asked: bool = False
    delivery: DeliveryView | None = None
    #: what the action overrode, said plainly (e.g. a transfer to an offline agent)
    note: str | None = None


# ---- request bodies -------------------------------------------------------------------
class ReplyRequest(BaseModel):
    """An agent's reply to the client."""

    text: str = Field(min_length=1, max_length=MAX_REPLY)


class NoteRequest(BaseModel):
    """An internal note; ``to_client`` also keeps it on the client's profile."""

    text: str = Field(min_length=1, max_length=MAX_NOTE)
    to_client: bool = False


class ClaimRequest(BaseModel):
    """Claim a queued conversation; managers and admins may name another agent."""

    agent_id: str | None = Field(default=None, max_length=64)


class TransferRequest(BaseModel):
    """Give the conversation back to the queue, or to a named agent, saying why."""

    to_agent: str | None = Field(default=None, max_length=64)
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    #: transfer to an agent who is offline, away or full anyway (the answer says so)
    override: bool = False


class CloseRequest(BaseModel):
    """Resolve or return to the bot, optionally saying why; ``ask_csat`` sends the CSAT question."""

    reason: str | None = Field(default=None, max_length=MAX_REASON)
    ask_csat: bool = True


class PresenceRequest(BaseModel):
    """The agent's own status."""

    status: AgentStatus
