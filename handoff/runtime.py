"""The handoff side of a running bot: what the engine's turns and the agent console use.

:func:`build_handoff` wires it for a project (:mod:`concierge.compose` passes it to the
engine as its :class:`bot.hooks.TurnHooks` and keeps it as ``Services.handoff``; None for a
project without handoff data, and everything that reads it checks). It needs no engine:
it appends through a :class:`bot.writer.ConversationWriter` on the engine's store, locks
and live feed. It holds:

- ``config``: ``<project>/handoff.yml`` (defaults for whatever it leaves out);
- ``clients``: client profiles on the event store's database; the project's
  ``data/clients.csv`` is imported at start-up when the table is empty;
- ``roster``: agents from ``data/agents.yml`` with live status (set by the console,
  kept in a :class:`~handoff.presence.PresenceStore`: Redis when several processes serve
  the bot) and load (counted from the log);
- ``service``: the one write path for handoff moves, appending through the writer;
- the sentiment model (trained with the bot; ``sentiment``).

The console codes against these coroutines::

    await runtime.client_for(conversation_id)   # ClientProfile | None
    await runtime.packet(conversation_id)       # HandoffPacket (warm handoff)
    await runtime.queue()                       # list[RankedItem], highest priority first
    await runtime.route(conversation_id)        # Assignment: suggested agent + explanation
    await runtime.set_agent_status(agent_id, "online")
    await runtime.service.claim(conversation_id, agent_id)   # and transfer/resolve/return_to_bot
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.channels.addresses import AddressBook
from bot.domain import Domain
from bot.events import Event, SlotSet, UserUttered
from bot.models import ComponentHealth, InboundMessage
from bot.redact import conversation_ref
from bot.sentiment.trajectory import trajectory
from bot.store.event_store import split_conversation_id
from bot.tracker import Tracker
from handoff.agents import AgentRoster, AgentStatus, load_agents
from handoff.client_import import import_clients_csv
from handoff.clients import ClientAudit, ClientNotFound, ClientProfile, ClientStore
from handoff.config import HandoffConfig, load_handoff_config
from handoff.ledger import HandoffLedger
from handoff.packet import HandoffPacket, Summariser, build_packet
from handoff.presence import PresenceStore
from handoff.projections import conversation_facts, handoff_tickets, register_handoff_projections
from handoff.queue import QueueItem, RankedItem, rank
from handoff.recognition import ClientRecognition, recognised_client
from handoff.roster import AgentDirectory
from handoff.routing import Assignment, RoutingRequest, route
from handoff.service import HandoffService
from handoff.state import HandoffStatus
from handoff.turn import LANGUAGE_SLOT, Apply, HandoffTurn

if TYPE_CHECKING:
    from bot.nlg import ResponseRenderer
    from bot.sentiment.project import ProjectSentiment
    from bot.writer import ConversationWriter

log = logging.getLogger(__name__)

CONFIG_FILE = "handoff.yml"


class HandoffRuntime:
    """Clients, agents, triggers and the handoff state machine of one running bot; the
    engine's :class:`bot.hooks.TurnHooks` (:meth:`turn`, :meth:`health`, :meth:`close`)."""

    def __init__(
        self,
        writer: ConversationWriter,
        *,
        domain: Domain,
        nlg: ResponseRenderer | None,
        sentiment: ProjectSentiment | None,
        clock: Callable[[], float] = time.time,
        config: HandoffConfig,
        clients: ClientStore,
        roster: AgentDirectory,
        ledger: HandoffLedger,
        summariser: Summariser | None = None,
    ) -> None:
        self.writer = writer  # appends under the conversation's lock, then live (bot/writer.py)
        self.store = writer.store
        self.domain = domain  # slots and responses the handoff messages use
        self.nlg = nlg
        self.sentiment = sentiment  # trained with the bot; None when the project ships no examples
        self._clock = clock  # the engine's (the composition root gives both the same; tests move it)
        self.config = config
        self.clients = clients
        self.roster = roster
        self.ledger = ledger
        self.summariser = summariser
        self.recognition = ClientRecognition(clients, addresses=AddressBook(writer.store.engine))
        self.service = HandoffService(writer, clock=self.clock)

    def clock(self) -> float:
        """Now, epoch seconds, on the clock the engine uses."""
        return self._clock()

    def turn(self, message: InboundMessage, tracker: Tracker, apply: Apply) -> HandoffTurn:
        """The handoff hooks for one turn (called by the engine under the conversation's lock)."""
        return HandoffTurn(self, message, tracker, apply)

    # ---- agents ---------------------------------------------------------------------------
    async def set_agent_status(self, agent_id: str, status: AgentStatus) -> None:
        """Record an agent's status (console log-in, away, log-out); raises ``UnknownAgent``."""
        await self.roster.set_status(agent_id, status)

    async def plan(
        self,
        conversation_id: str,
        client: ClientProfile | None,
        language: str | None,
        now: datetime,
        *,
        waited: float | None = None,
    ) -> Assignment:
        """The router's choice for a conversation at ``now`` (a VIP's named concierge first;
        ``waited``: seconds in the queue, for the concierge's sticky wait)."""
        tier = client.tier if client else self.config.tiers.default
        concierge = client.concierge_agent_id if client and tier in self.config.concierge_tiers else None
        request = RoutingRequest(
            conversation_id=conversation_id,
            tier=tier,
            language=language,
            category=client.recent_visits[0].category if client and client.recent_visits else None,
            concierge_id=concierge,
            location=client.home_location if client else None,
            waited=waited,
        )
        return route(request, await self.roster.states(), self.config, now)

    # ---- what the console reads -----------------------------------------------------------
    async def client_for(self, conversation_id: str) -> ClientProfile | None:
        """The client behind a conversation: the one its turns recognised, else the known
        owner of its sender id; None for an anonymous conversation."""
        events = await self.store.events(conversation_id)
        return await self._client(conversation_id, events)

    async def packet(self, conversation_id: str) -> HandoffPacket:
        """The warm-handoff packet: client card, why, summary, key messages, what the bot
        tried (with knowledge sources), intents and the sentiment trajectory."""
        events = await self.store.events(conversation_id)
        client = await self._client(conversation_id, events)
        return await build_packet(
            conversation_id, events, config=self.config, client=client, summariser=self.summariser
        )

    async def queue(self, now: float | None = None) -> list[RankedItem]:
        """Conversations waiting for a person, highest priority first, with SLA clocks.

        Read from the handoff read models, never from whole logs: the queued tickets and
        their conversation facts (client, detected language, sentiment scores) in ONE query,
        then each distinct client's profile once, as the console's queue reads them."""
        tickets, facts = handoff_tickets.c, conversation_facts.c
        joined = handoff_tickets.outerjoin(
            conversation_facts, facts.conversation_id == tickets.conversation_id
        )
        stmt = (
            select(
                tickets.conversation_id,
                tickets.queued_at,
                tickets.reason,
                facts.client_id,
                facts.detected_language,
                facts.sentiment_scores,
            )
            .select_from(joined)
            .where(tickets.status == HandoffStatus.QUEUED.value, tickets.status_event.is_not(None))
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        clients: dict[tuple[str | None, str], ClientProfile | None] = {}
        items = []
        for row in rows:
            if row.queued_at is None:
                continue
            key = (row.client_id, "" if row.client_id else row.conversation_id)
            if key not in clients:
                clients[key] = await self._client_by_id(row.conversation_id, row.client_id)
            client = clients[key]
            path = trajectory(list(row.sentiment_scores or []), self.config.triggers.sentiment)
            items.append(
                QueueItem(
                    conversation_id=row.conversation_id,
                    tier=client.tier if client else "Standard",
                    queued_at=row.queued_at,
                    sentiment=path.latest,
                    reason=row.reason,
                    language=row.detected_language or (client.language if client else None),
                    category=client.recent_visits[0].category if client and client.recent_visits else None,
                    client_name=client.display_name if client else None,
                )
            )
        return rank(items, self.clock() if now is None else now, self.config)

    async def route(self, conversation_id: str, now: datetime | None = None) -> Assignment:
        """Who should take the conversation now, and why (a suggestion; nothing is written)."""
        events = await self.store.events(conversation_id)
        client = await self._client(conversation_id, events)
        when = now or datetime.fromtimestamp(self.clock(), UTC)
        return await self.plan(conversation_id, client, _language(events, client), when)

    async def health(self) -> ComponentHealth:
        """``ok`` with the roster size and whether sentiment is scored; ``down`` when the
        shared presence store (Redis) cannot be reached."""
        presence = await self.roster.presence.health()
        if presence.status != "ok":
            return ComponentHealth(status=presence.status, detail=f"agent presence: {presence.detail}")
        online = sum(1 for s in (await self.roster.statuses()).values() if s == "online")
        sentiment = "on" if self.sentiment is not None else "off"
        return ComponentHealth(
            status="ok", detail=f"{len(self.roster.profiles)} agents ({online} online), sentiment {sentiment}"
        )

    async def close(self) -> None:
        """Release the presence store's connections."""
        await self.roster.presence.close()

    async def _client(self, conversation_id: str, events: list[Event]) -> ClientProfile | None:
        # only what recognition set, never a client's slot
        return await self._client_by_id(conversation_id, recognised_client(events))

    async def _client_by_id(self, conversation_id: str, client_id: str | None) -> ClientProfile | None:
        """The client ``client_id`` names (if it still exists), else the sender id's owner."""
        if client_id:
            try:
                return await self.clients.get(str(client_id))
            except ClientNotFound:
                log.warning(
                    "%s names client %s, who no longer exists", conversation_ref(conversation_id), client_id
                )
        channel, sender_id = split_conversation_id(conversation_id)
        return await self.recognition.for_conversation(channel, sender_id)


def _language(events: list[Event], client: ClientProfile | None) -> str | None:
    """The conversation's language: the bot's ``language`` slot, the last detected, the client's."""
    for event in reversed(events):
        if isinstance(event, SlotSet) and event.name == LANGUAGE_SLOT and event.value:
            return str(event.value)
        if isinstance(event, UserUttered) and event.parse_data.language:
            return event.parse_data.language
    return client.language if client else None


async def build_handoff(
    writer: ConversationWriter,
    project_dir: Path,
    *,
    domain: Domain,
    nlg: ResponseRenderer | None,
    sentiment: ProjectSentiment | None,
    clock: Callable[[], float] = time.time,
    summariser_factory: Callable[[], Summariser | None] | None = None,
    presence: PresenceStore | None = None,
    audit: ClientAudit | None = None,
) -> HandoffRuntime | None:
    """The runtime for a project with handoff data (``handoff.yml`` or an agents file), else None.

    The client table is filled from the project's clients CSV when it is empty, so a
    fresh demo knows its VIPs; later imports are the client API's job, and a change an
    agent made is never overwritten by a restart. ``presence`` is where agents' statuses
    live (default: this process); the runtime closes it with :meth:`HandoffRuntime.close`.
    ``audit`` records client merges (the console's audit log); without one the client
    store refuses every merge rather than merge unaudited.
    """
    started = time.perf_counter()
    config_path = project_dir / CONFIG_FILE
    config = load_handoff_config(config_path if config_path.is_file() else None)
    agents_path = project_dir / config.agents_file
    if not config_path.is_file() and not agents_path.is_file():
        return None
    roster = load_agents(agents_path) if agents_path.is_file() else AgentRoster(agents=[])
    clients = ClientStore(writer.store.engine, config.tiers, audit=audit)  # no audit: no merges
    clients_csv = project_dir / config.clients_file
    if clients_csv.is_file() and not await clients.has_any():
        report = await import_clients_csv(clients_csv, clients)
        log.info("imported %d clients from %s", report.clients, clients_csv.name)
    await register_handoff_projections(writer.store)  # the ledger and the queue read them
    ledger = HandoffLedger(writer.store.engine)
    runtime = HandoffRuntime(
        writer,
        domain=domain,
        nlg=nlg,
        sentiment=sentiment,
        clock=clock,
        config=config,
        clients=clients,
        roster=AgentDirectory(roster, ledger, presence),
        ledger=ledger,
        summariser=summariser_factory() if summariser_factory else None,
    )
    log.info("handoff ready in %.2fs: %d agents", time.perf_counter() - started, len(roster.agents))
    return runtime
