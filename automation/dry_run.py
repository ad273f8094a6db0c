"""How often would each rule have fired on past conversations? Same triggers
(:func:`automation.inbox.triggers_of`), same context and conditions
(:mod:`automation.context`) as the live runner, over the stored logs; nothing is written
and no action runs.

The client's profile is read as it is now (a tier written into the log by recognition
wins, as it does live); an ``sla_breached`` counts when no person replied within the tier's
SLA of queueing (before the end of the log, or ``now``), an ``sla_about_to_breach`` when no
person had replied (nor the handoff ended) by the rule's ``within_seconds`` before that
deadline, and that moment is past.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, Field
from sqlalchemy import select

from automation.context import context_at, matches, with_client
from automation.inbox import triggers_of
from automation.rules import RuleSet, Trigger
from bot.events import BotUttered, HandoffStatus, HandoffStatusChanged
from bot.redact import conversation_ref
from bot.store.event_store import EventStore, StoredEvent
from bot.store.tables import conversations
from handoff.config import HandoffConfig
from handoff.profiles import ClientProfile

MAX_CONVERSATIONS = 20_000
EXAMPLES = 5


class RuleCount(BaseModel):
    """One rule's dry-run result."""

    rule_id: str
    name: str
    trigger: str
    fired: int = 0
    conversations: int = 0
    examples: list[str] = Field(default_factory=list, description="conversation refs (no personal data)")


class DryRunReport(BaseModel):
    """Every rule's count over the conversations read."""

    conversations: int
    events_considered: int
    rules: list[RuleCount]


def _settled_at(stored: list[StoredEvent], seq: int) -> float | None:
    """When the handoff queued at ``seq`` got a person's reply or ended (None: not yet)."""
    for item in stored:
        if item.seq <= seq:
            continue
        event = item.event
        if isinstance(event, BotUttered) and event.metadata.get("sender") == "agent":
            return event.timestamp
        if isinstance(event, HandoffStatusChanged) and event.to_status in (
            HandoffStatus.BOT,
            HandoffStatus.RESOLVED,
        ):
            return event.timestamp
    return None


def _breached(stored: list[StoredEvent], seq: int, sla: float, now: float) -> bool:
    queued_at = next(s.event.timestamp for s in stored if s.seq == seq)
    settled = _settled_at(stored, seq)
    return (now if settled is None else settled) - queued_at > sla


def _warned(stored: list[StoredEvent], seq: int, sla: float, lead: float, now: float) -> bool:
    """Whether an ``sla_about_to_breach`` rule with ``lead`` seconds would have fired."""
    warn_at = next(s.event.timestamp for s in stored if s.seq == seq) + sla - lead
    settled = _settled_at(stored, seq)
    return warn_at <= now and (settled is None or settled > warn_at)


async def dry_run(
    store: EventStore,
    rules: RuleSet,
    config: HandoffConfig,
    client_for: Callable[[str], Awaitable[ClientProfile | None]],
    *,
    now: float,
    since: float | None = None,
    limit: int = MAX_CONVERSATIONS,
) -> DryRunReport:
    """Count each enabled rule's firings over up to ``limit`` conversations (those updated
    since ``since`` when given)."""
    stmt = select(conversations.c.id).order_by(conversations.c.id).limit(limit)
    if since is not None:
        from datetime import UTC, datetime

        stmt = stmt.where(conversations.c.updated_at >= datetime.fromtimestamp(since, UTC))
    async with store.engine.connect() as conn:
        ids = list((await conn.execute(stmt)).scalars().all())
    counts = {r.id: RuleCount(rule_id=r.id, name=r.name, trigger=str(r.on)) for r in rules.rules if r.enabled}
    touched: Counter[str] = Counter()
    considered = 0
    for cid in ids:
        stored = await store.load(cid)
        client: ClientProfile | None = None
        client_read = False
        for raised in triggers_of(stored):
            candidates = rules.for_trigger(raised.trigger)
            if not candidates:
                continue
            considered += 1
            context = context_at(cid, stored, raised.seq, raised.trigger)
            if not client_read:
                client, client_read = await client_for(cid), True
            context = with_client(context, client)
            tier = context.facts.tier if context.facts.tier in config.sla.first_response_seconds else None
            sla = config.sla_seconds(tier or config.tiers.default)
            if raised.trigger == Trigger.SLA_BREACHED and not _breached(stored, raised.seq, sla, now):
                continue
            for rule in candidates:
                if raised.trigger == Trigger.SLA_ABOUT_TO_BREACH and not _warned(
                    stored, raised.seq, sla, rule.within_seconds or 0.0, now
                ):
                    continue
                if matches(rule.when, context, config):
                    count = counts[rule.id]
                    count.fired += 1
                    if touched[f"{rule.id}\0{cid}"] == 0:
                        count.conversations += 1
                        if len(count.examples) < EXAMPLES:
                            count.examples.append(conversation_ref(cid))
                    touched[f"{rule.id}\0{cid}"] += 1
    return DryRunReport(conversations=len(ids), events_considered=considered, rules=list(counts.values()))
