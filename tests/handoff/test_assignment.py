"""Auto-assignment: balanced load, capacity, language, the named concierge's sticky wait and
its fallback, and transfers only to agents who are there (unless overridden)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.events import IntentPrediction, ParseData, UserUttered
from bot.store import EventStore
from handoff.agents import AgentRoster, AgentState, load_agents
from handoff.assignment import AgentUnavailable, AutoAssigner, check_target
from handoff.config import AssignmentConfig, HandoffConfig
from handoff.routing import RoutingRequest, route
from handoff.state import HandoffStatus
from tests.automation.automation_support import Clock, runtime_on

OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # Tuesday noon in Warsaw: every studio open
CONFIG = HandoffConfig()


@pytest.fixture(scope="module")
def roster(repo_dir: Path) -> AgentRoster:
    return load_agents(repo_dir / "data" / "agents.yml")


def states(roster: AgentRoster, **status: tuple[str, int]) -> list[AgentState]:
    """Everyone offline except the named agents: first name -> (status, active chats)."""
    out = []
    for profile in roster.agents:
        state, chats = status.get(profile.id.split(".")[0], ("offline", 0))
        out.append(AgentState(profile=profile, status=state, active_chats=chats))  # type: ignore[arg-type]
    return out


def test_balanced_the_least_loaded_share_of_capacity_wins(roster: AgentRoster) -> None:
    request = RoutingRequest(conversation_id="widget:a", language="pl")
    agents = states(roster, anna=("online", 2), marta=("online", 1), iryna=("online", 2))
    chosen = route(request, agents, CONFIG, OPEN)
    assert chosen.agent_id == "marta.nowak"  # 1/4 beats 2/3 and 2/3
    assert "least loaded" in chosen.explanation and "1/4 chats" in chosen.explanation


def test_capacity_a_full_agent_is_skipped_and_all_full_waits(roster: AgentRoster) -> None:
    request = RoutingRequest(conversation_id="widget:a", language="pl")
    assert route(request, states(roster, anna=("online", 3), marta=("online", 3)), CONFIG, OPEN).agent_id == (
        "marta.nowak"
    )
    nobody = route(request, states(roster, anna=("online", 3), iryna=("online", 3)), CONFIG, OPEN)
    assert nobody.agent_id is None and "no agent online with a free slot" in nobody.explanation


def test_language_beats_load(roster: AgentRoster) -> None:
    request = RoutingRequest(conversation_id="widget:a", language="uk")
    chosen = route(request, states(roster, anna=("online", 0), olena=("online", 3)), CONFIG, OPEN)
    assert chosen.agent_id == "olena.shevchenko" and "speaks Ukrainian" in chosen.explanation


VIP = RoutingRequest(conversation_id="widget:ola", tier="VIP", language="pl", concierge_id="anna.kowalska")


def test_sticky_concierge_waits_then_falls_back_to_the_best_agent(roster: AgentRoster) -> None:
    away = states(roster, anna=("away", 0), marta=("online", 0))
    held = route(VIP.model_copy(update={"waited": 100.0}), away, CONFIG, OPEN)
    assert held.agent_id is None and held.held_for_concierge
    assert held.held_until == datetime(2026, 11, 24, 11, 3, 20, tzinfo=UTC)  # 300 s after queueing
    assert "concierge Anna is away" in held.explanation and "then the best other agent" in held.explanation
    late = route(VIP.model_copy(update={"waited": 300.0}), away, CONFIG, OPEN)
    assert late.agent_id == "marta.nowak" and not late.held_for_concierge
    assert "held 300 s for them, now the best other agent" in late.explanation
    back = route(VIP.model_copy(update={"waited": 100.0}), states(roster, anna=("online", 1)), CONFIG, OPEN)
    assert back.agent_id == "anna.kowalska" and back.concierge  # sticky: she gets it as soon as she is there


def test_sticky_concierge_with_queue_fallback_never_goes_elsewhere(roster: AgentRoster) -> None:
    config = HandoffConfig(assignment=AssignmentConfig(fallback="queue"))
    held = route(
        VIP.model_copy(update={"waited": 10_000.0}), states(roster, marta=("online", 0)), config, OPEN
    )
    assert held.agent_id is None and held.held_for_concierge and "(fallback: queue)" in held.explanation


async def queued(
    store: EventStore, runtime: object, conversation_id: str, at: float, language: str = "pl"
) -> None:
    message = UserUttered(
        text="...",
        parse_data=ParseData(intent=IntentPrediction(name="request_human"), language=language),
        timestamp=at,
    )
    await store.append(conversation_id, [message])
    await runtime.service.request(conversation_id, "client_request")  # type: ignore[attr-defined]


async def test_a_sweep_spreads_the_queue_evenly_and_respects_capacity(tmp_path: Path, repo_dir: Path) -> None:
    store = EventStore.from_url(f"sqlite:///{tmp_path / 'assign.db'}")
    await store.migrate()
    clock = Clock(OPEN.timestamp())
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        assert await AutoAssigner(runtime).sweep() == []  # opt-in: off unless handoff.yml says so
        runtime.config = runtime.config.model_copy(update={"assignment": AssignmentConfig(auto_assign=True)})
        for agent in ("anna.kowalska", "marta.nowak"):  # 3 and 4 slots
            await runtime.set_agent_status(agent, "online")
        for i in range(9):
            await queued(store, runtime, f"widget:q{i}", clock.now + i)
        clock.now += 60
        decisions = await AutoAssigner(runtime).sweep()
        got = Counter(d.agent_id for d in decisions)
        assert got == Counter({"marta.nowak": 4, "anna.kowalska": 3, None: 2})  # full, then the queue waits
        assert await runtime.roster.ledger.loads() == Counter({"marta.nowak": 4, "anna.kowalska": 3})
        first = await runtime.service.ticket("widget:q0")
        assert first.status == HandoffStatus.ASSIGNED
        row = (await runtime.ledger.tickets(HandoffStatus.ASSIGNED))[0]
        assert row.routing and "least loaded" in row.routing  # the router's sentence travels with the move
    finally:
        await store.close()


async def test_transfers_only_to_agents_who_are_there_unless_overridden(
    tmp_path: Path, repo_dir: Path
) -> None:
    store = EventStore.from_url(f"sqlite:///{tmp_path / 'transfer.db'}")
    await store.migrate()
    try:
        runtime = await runtime_on(store, repo_dir, Clock(OPEN.timestamp()))
        with pytest.raises(AgentUnavailable, match=r"olena\.shevchenko is offline"):
            await check_target(runtime, "olena.shevchenko")
        assert await check_target(runtime, "olena.shevchenko", override=True) == (
            "overridden: olena.shevchenko is offline"
        )
        await runtime.set_agent_status("olena.shevchenko", "online")
        assert await check_target(runtime, "olena.shevchenko") is None
        with pytest.raises(AgentUnavailable, match="not on the roster"):
            await check_target(runtime, "nobody.here", override=True)
    finally:
        await store.close()
