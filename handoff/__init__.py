"""Human handoff: who the client is, when to hand over, to whom, and what the agent gets.

- :mod:`handoff.clients`, :mod:`handoff.profiles`, :mod:`handoff.identity`, :mod:`handoff.tiers`:
  client profiles, identities across channels, tiers and milestones (SQL via ``ClientStore``).
- :mod:`handoff.triggers`: when the bot should hand off (pure functions over events).
- :mod:`handoff.state`, :mod:`handoff.service`: the one transition table and the service
  that writes it to the event log.
- :mod:`handoff.queue`, :mod:`handoff.routing`, :mod:`handoff.hours`: priority, agent
  choice with its explanation, business hours.
- :mod:`handoff.packet`: the warm-handoff packet for the agent (:mod:`handoff.summary`: an
  optional LLM summary).
- In the running bot: :mod:`handoff.runtime` (``Services.handoff`` and the engine's turn
  hooks: what the engine and the console use), :mod:`handoff.turn` (the engine's per-turn
  hooks), :mod:`handoff.recognition` (the client behind a message, as slots),
  :mod:`handoff.ledger` and :mod:`handoff.roster` (queue and agent load from the log, live
  agent status), :mod:`handoff.messages` (what the client is told).
"""

from handoff.agents import AgentProfile, AgentRoster, AgentState, load_agents
from handoff.client_import import ImportReport, import_clients_csv, read_clients_csv
from handoff.clients import ClientNotFound, ClientProfile, ClientStore, ClientUpsert, Note, Visit
from handoff.config import HandoffConfig, Tier, load_handoff_config
from handoff.identity import Identity, InvalidIdentity, normalise_phone
from handoff.packet import HandoffPacket, Summariser, build_packet
from handoff.queue import QueueItem, RankedItem, queue_item, rank, rank_item
from handoff.routing import Assignment, RoutingRequest, route
from handoff.service import ConversationLog, EngineLog, HandoffService
from handoff.state import TRANSITIONS, HandoffStatus, HandoffTicket, IllegalTransition, ticket, transition
from handoff.tiers import TierDecision, compute_tier
from handoff.triggers import TriggerHit, evaluate_triggers

__all__ = [
    "TRANSITIONS",
    "AgentProfile",
    "AgentRoster",
    "AgentState",
    "Assignment",
    "ClientNotFound",
    "ClientProfile",
    "ClientStore",
    "ClientUpsert",
    "ConversationLog",
    "EngineLog",
    "HandoffConfig",
    "HandoffPacket",
    "HandoffService",
    "HandoffStatus",
    "HandoffTicket",
    "Identity",
    "IllegalTransition",
    "ImportReport",
    "InvalidIdentity",
    "Note",
    "QueueItem",
    "RankedItem",
    "RoutingRequest",
    "Summariser",
    "Tier",
    "TierDecision",
    "TriggerHit",
    "Visit",
    "build_packet",
    "compute_tier",
    "evaluate_triggers",
    "import_clients_csv",
    "load_agents",
    "load_handoff_config",
    "normalise_phone",
    "queue_item",
    "rank",
    "rank_item",
    "read_clients_csv",
    "route",
    "ticket",
    "transition",
]
