"""Operations metrics for Prometheus: what this process counted, and what the database says.

- Counted in process (an app's own :class:`TurnMetrics`, a fresh ``CollectorRegistry`` per
  app, nothing global): ``concierge_turns_total{channel,result}`` and the turn latency
  histogram ``concierge_turn_seconds{channel}``, observed at the app's edge
  (``console.app.EngineSlot``) around each turn a channel asks for.
- Read from the read models and the outbox at scrape time (so every worker process reports
  the same shared figures): conversations handed off by reason, queue depth by tier, open
  handoffs past their tier's SLA with no reply yet, outbox rows unfinished or failed per
  channel and status, and outbox rows whose last attempt errored per channel (channel errors).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.channels.tables import outbox
from bot.store import EventStore
from console.services.analytics.facts import tier_of
from handoff.config import TIERS, HandoffConfig
from handoff.projections import conversation_facts, handoff_tickets

#: turn latency buckets (seconds): the 5 ms goal up to the slow tail
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OPEN = ("queued", "assigned")


class TurnMetrics:
    """This process's turn counter and latency histogram, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.turns = Counter(
            "concierge_turns",
            "Turns answered, by channel and result",
            ["channel", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "concierge_turn_seconds",
            "Turn latency at the app's edge",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )

    def observe(self, channel: str, seconds: float, *, ok: bool) -> None:
        """Count one turn of ``channel`` that took ``seconds``."""
        self.turns.labels(channel=channel, result="ok" if ok else "error").inc()
        self.latency.labels(channel=channel).observe(seconds)


class _Fixed(Collector):
    """A collector that yields families computed beforehand (the database's figures)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def database_families(
    store: EventStore, config: HandoffConfig, *, now: float | None = None
) -> list[Metric]:
    """The shared figures, read in one connection (small GROUP BY queries over indexed tables)."""
    now = now if now is not None else time.time()
    f, t, o = conversation_facts.c, handoff_tickets.c, outbox.c
    async with store.engine.connect() as conn:
        reasons = (
            await conn.execute(
                select(f.handoff_reason, func.count()).where(f.handoffs > 0).group_by(f.handoff_reason)
            )
        ).all()
        open_tickets = (
            await conn.execute(
                select(t.status, t.queued_at, t.first_response_at, f.handoff_tier, f.tier)
                .select_from(
                    handoff_tickets.outerjoin(conversation_facts, f.conversation_id == t.conversation_id)
                )
                .where(t.status.in_(OPEN))
            )
        ).all()
        backlog = (
            await conn.execute(
                select(o.channel, o.status, func.count())
                .where(o.status.in_(["queued", "sending", "failed"]))
                .group_by(o.channel, o.status)
            )
        ).all()
        errors = (
            await conn.execute(
                select(o.channel, func.count()).where(o.last_error.is_not(None)).group_by(o.channel)
            )
        ).all()
    handed = CounterMetricFamily(
        "concierge_handed_off_conversations",
        "Conversations handed to a person, by their first handoff's reason",
        labels=["reason"],
    )
    for reason, count in reasons:
        handed.add_metric([reason or "unknown"], count)
    depth = GaugeMetricFamily(
        "concierge_queue_depth", "Handoffs waiting for an agent, by tier", labels=["tier"]
    )
    breaches = GaugeMetricFamily(
        "concierge_sla_breaches",
        "Open handoffs past their tier's first-response SLA with no reply yet",
        labels=["tier"],
    )
    waiting: dict[str, int] = dict.fromkeys(TIERS, 0)
    late: dict[str, int] = dict.fromkeys(TIERS, 0)
    for status, queued_at, replied_at, handoff_tier, slot_tier in open_tickets:
        tier = tier_of(handoff_tier, slot_tier, config.tiers.default)
        if status == "queued":
            waiting[tier] += 1
        if replied_at is None and queued_at is not None and now - queued_at > config.sla_seconds(tier):  # type: ignore[arg-type]
            late[tier] += 1
    for tier in TIERS:
        depth.add_metric([tier], waiting[tier])
        breaches.add_metric([tier], late[tier])
    rows = GaugeMetricFamily(
        "concierge_outbox_rows",
        "Outbox rows not delivered yet (queued, sending) or failed, by channel",
        labels=["channel", "status"],
    )
    for channel, status, count in backlog:
        rows.add_metric([channel, status], count)
    channel_errors = GaugeMetricFamily(
        "concierge_channel_errors",
        "Outbox rows whose last delivery attempt failed with a channel error",
        labels=["channel"],
    )
    for channel, count in errors:
        channel_errors.add_metric([channel], count)
    return [handed, depth, breaches, rows, channel_errors]


def exposition(turns: TurnMetrics | None, families: Iterable[Metric]) -> bytes:
    """The Prometheus text format of this process's metrics and the database's figures."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Fixed(families))
    own = generate_latest(turns.registry) if turns is not None else b""
    return own + generate_latest(scrape)
