"""What the agent reads: a conversation with its packet and client card, suggestions, canned replies.

Everything is read from the engine's event log and the handoff runtime (client store,
packet, router); nothing here writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.engine import Engine
from bot.events import CsatRecorded, CsatRequested, Event, UserUttered
from bot.redact import conversation_ref
from bot.sentiment.trajectory import trajectory
from bot.store.event_store import StoredEvent, split_conversation_id
from console.security.models import ConsoleUser
from console.services.workspace.access import actor_id, allowed_actions
from console.services.workspace.canned import CannedReplies, RenderedReply, render
from console.services.workspace.errors import ConversationNotFound
from console.services.workspace.models import (
    ClientCardView,
    ConversationView,
    CsatView,
    KnowledgePassage,
    NoteView,
    SuggestionsView,
    VisitView,
    WorkspaceLine,
)
from console.services.workspace.transcript import sentiment_points, workspace_lines
from handoff.clients import ClientProfile
from handoff.recognition import unverified_contact
from handoff.runtime import HandoffRuntime
from handoff.state import ticket
from handoff.triggers import sentiment_scores
from knowledge.settings import KnowledgeServices

log = logging.getLogger(__name__)

QUERY_MESSAGES = 2
MAX_QUERY = 500


def client_card(profile: ClientProfile, runtime: HandoffRuntime) -> ClientCardView:
    """The client card of a profile, with the concierge's name from the roster."""
    concierge = runtime.roster.get(profile.concierge_agent_id) if profile.concierge_agent_id else None
    return ClientCardView(
        id=profile.id,
        name=profile.display_name,
        first_name=profile.first_name,
        tier=profile.tier,
        tier_reason=profile.tier_reason,
        language=profile.language,
        concierge_agent_id=profile.concierge_agent_id,
        concierge_name=concierge.name if concierge else None,
        home_location=profile.home_location,
        membership=profile.membership,
        birthday=profile.birthday,
        visit_count=profile.visit_count,
        visits_12m=profile.visits_12m,
        spend_12m=profile.spend_12m,
        first_visit=profile.first_visit,
        recent_visits=[VisitView(**v.model_dump()) for v in profile.recent_visits],
        preferences=profile.preferences,
        notes=[
            NoteView(author=n.author, text=n.text, created_at=n.created_at.isoformat()) for n in profile.notes
        ],
        milestones=[m.description for m in profile.milestones],
        channels=sorted({i.kind for i in profile.identities}),
    )


def _csat(events: Sequence[Event]) -> CsatView:
    view = CsatView()
    for event in events:
        if isinstance(event, CsatRequested):
            view = CsatView(requested_at=event.timestamp)
        elif isinstance(event, CsatRecorded):
            view = view.model_copy(update={"score": event.score, "recorded_at": event.timestamp})
    return view


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


def client_query(events: Sequence[Event], count: int = QUERY_MESSAGES) -> str:
    """The client's latest typed messages (not button payloads), joined: what to search for."""
    texts: list[str] = []
    for event in reversed(events):
        if isinstance(event, UserUttered) and event.text and not event.text.startswith("/"):
            texts.append(event.text.strip())
            if len(texts) == count:
                break
    return " ".join(reversed(texts))[:MAX_QUERY]


class WorkspaceViews:
    """Read models of the workspace over one engine and its handoff runtime."""

    def __init__(
        self,
        engine: Engine,
        runtime: HandoffRuntime,
        canned: CannedReplies,
        *,
        knowledge: KnowledgeServices | None = None,
    ) -> None:
        self.engine = engine
        self.runtime = runtime
        self.canned = canned
        self.knowledge = knowledge  # suggestions search it; None without a knowledge base

    def name_of(self, agent_id: str) -> str:
        """An agent's display name (ids not on the roster, like ``bot`` or a manager, as given)."""
        profile = self.runtime.roster.get(agent_id)
        return profile.name if profile else agent_id

    async def stored(self, conversation_id: str, after_seq: int | None = None) -> list[StoredEvent]:
        """The conversation's stored events; :class:`ConversationNotFound` when it has none."""
        stored = await self.engine.store.load(conversation_id, after_seq=after_seq)
        if after_seq is None and not stored:
            raise ConversationNotFound(f"no conversation {conversation_id!r}")
        return stored

    async def lines(self, conversation_id: str, after_seq: int | None = None) -> list[WorkspaceLine]:
        """The agent's transcript lines after ``after_seq`` (all of them without it)."""
        stored = await self.engine.store.load(conversation_id, after_seq=after_seq)
        return workspace_lines(stored, self.name_of)

    async def conversation(self, conversation_id: str, user: ConsoleUser) -> ConversationView:
        """The conversation page: transcript, packet, client card, sentiment, routing, CSAT."""
        stored = await self.stored(conversation_id)
        events = [s.event for s in stored]
        current = ticket(conversation_id, events)
        client = await self.runtime.client_for(conversation_id)
        packet = None
        if current.queued_at is not None:
            try:
                packet = await self.runtime.packet(conversation_id)
            except Exception:  # the agent still gets the transcript and the card
                log.exception("building the packet of %s failed", conversation_ref(conversation_id))
        routing = None
        if current.status == "queued":
            try:
                routing = (await self.runtime.route(conversation_id)).explanation
            except Exception:
                log.exception("routing %s failed", conversation_ref(conversation_id))
        points = sentiment_points(stored)
        scores = sentiment_scores(events)
        trend = trajectory(scores, self.runtime.config.triggers.sentiment).describe() if scores else None
        channel, _ = split_conversation_id(conversation_id)
        holder = current.assigned_to if current.status == "assigned" else None
        return ConversationView(
            conversation_id=conversation_id,
            channel=channel,
            status=current.status,
            assigned_to=holder,
            assigned_name=self.name_of(holder) if holder else None,
            holder_is_you=holder is not None and holder == actor_id(user),
            allowed=allowed_actions(current.status, holder, user),
            lines=workspace_lines(stored, self.name_of),
            last_seq=stored[-1].seq,
            packet=packet,
            client=client_card(client, self.runtime) if client else None,
            sentiment=points,
            sentiment_trend=trend,
            routing=routing,
            csat=_csat(events),
            language=_language(events, client),
            unverified_contact=unverified_contact(events),
        )

    async def suggestions(self, conversation_id: str, query: str | None = None) -> SuggestionsView:
        """Knowledge passages and a suggested reply for the client's latest messages (or ``query``)."""
        events = [s.event for s in await self.stored(conversation_id)]
        client = await self.runtime.client_for(conversation_id)
        language = _language(events, client)
        text = (query or "").strip()[:MAX_QUERY] or client_query(events)
        services = self.knowledge
        if services is None or not text:
            return SuggestionsView(
                query=text,
                language=language,
                passages=[],
                reply=None,
                reply_mode="none",
                reply_sources=[],
                available=services is not None,
            )
        answer = await services.kb.ask(text, language, conversation_id=conversation_id, record_gaps=False)
        passages = [
            KnowledgePassage(
                article_id=p.article_id,
                title=p.title,
                text=p.answer or p.text,
                score=round(p.score, 4),
                dense=round(p.dense, 4),
                lexical=round(p.lexical, 4),
                language=p.language,
            )
            for p in answer.passages
        ]
        return SuggestionsView(
            query=text,
            language=answer.language,
            passages=passages,
            reply=answer.text if answer.answered else None,
            reply_mode="llm" if answer.mode == "llm" else ("extractive" if answer.answered else "none"),
            reply_sources=[s.title for s in answer.sources],
        )

    async def canned_replies(self, conversation_id: str, user: ConsoleUser) -> list[RenderedReply]:
        """The canned replies filled in for this conversation's client and agent."""
        events = [s.event for s in await self.stored(conversation_id)]
        client = await self.runtime.client_for(conversation_id)
        profile = self.runtime.roster.get(user.agent_id) if user.agent_id else None
        agent_name = profile.first_name if profile else user.display_name.split(" ")[0]
        studio = None
        if client and client.home_location:
            location = self.runtime.config.locations.get(client.home_location)
            studio = location.name if location else client.home_location
        values = {
            "first_name": client.first_name if client else None,
            "last_name": client.last_name if client else None,
            "agent_name": agent_name,
            "studio": studio,
        }
        return render(self.canned, _language(events, client), values)
