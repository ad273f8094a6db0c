"""Routing decisions and the sentences that explain them; business hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff.agents import AgentRoster, AgentState, load_agents
from handoff.config import load_handoff_config
from handoff.routing import RoutingRequest, route

# Tuesday 24 Nov 2026, 12:00 in Warsaw (11:00 UTC): every studio is open.
OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
# the demo's own config: its studios are the catalogue's (data/demo/locations.csv)
CONFIG = load_handoff_config(Path(__file__).resolve().parents[2] / "handoff.yml")


@pytest.fixture(scope="module")
def roster(repo_dir: Path) -> AgentRoster:
    return load_agents(repo_dir / "data" / "agents.yml")


def states(roster: AgentRoster, **status: tuple[str, int]) -> list[AgentState]:
    """Everyone offline except the named agents: id -> (status, active chats)."""
    out = []
    for profile in roster.agents:
        key = profile.id.split(".")[0]
        state, chats = status.get(key, ("offline", 0))
        out.append(AgentState(profile=profile, status=state, active_chats=chats))  # type: ignore[arg-type]
    return out


VIP_NAILS = RoutingRequest(
    conversation_id="widget:ola",
    tier="VIP",
    language="pl",
    category="nails",
    concierge_id="anna.kowalska",
    location="warsaw_mokotow",
)


def test_the_named_concierge_wins_when_online_with_room(roster: AgentRoster) -> None:
    result = route(VIP_NAILS, states(roster, anna=("online", 1), iryna=("online", 0)), CONFIG, OPEN)
    assert (result.agent_id, result.concierge) == ("anna.kowalska", True)
    assert result.explanation == "VIP, Polish, nails -> Anna: named concierge, online, 1/3 chats"


def test_an_away_or_full_concierge_is_passed_over_and_the_reason_said(roster: AgentRoster) -> None:
    away = route(
        VIP_NAILS,
        states(roster, anna=("away", 0), iryna=("online", 0), katarzyna=("online", 2)),
        CONFIG,
        OPEN,
    )
    assert away.agent_id == "iryna.bondarenko"  # speaks Polish, nails, works at Mokotów, emptier ratio
    assert away.explanation == (
        "VIP, Polish, nails -> Iryna: concierge Anna is away; speaks Polish, nails skill, "
        "works at Warsaw Mokotów, online, 0/3 chats, best fit, least loaded"
    )
    full = route(VIP_NAILS, states(roster, anna=("online", 3), katarzyna=("online", 2)), CONFIG, OPEN)
    assert full.agent_id == "katarzyna.zielinska"
    assert full.explanation.startswith(
        "VIP, Polish, nails -> Katarzyna: concierge Anna is full (3/3 chats); "
    )


def test_language_before_skill_before_load(roster: AgentRoster) -> None:
    request = RoutingRequest(
        conversation_id="telegram:1",
        tier="Standard",
        language="uk",
        category="fitness",
        location="warsaw_srodmiescie",
    )
    online = states(roster, piotr=("online", 0), dmytro=("online", 3), sophie=("online", 0))
    result = route(request, online, CONFIG, OPEN)
    assert result.agent_id == "dmytro.melnyk"  # the only Ukrainian speaker, though busiest
    assert result.explanation == (
        "Standard, Ukrainian, fitness -> Dmytro: speaks Ukrainian, fitness skill, "
        "works at Warsaw Śródmieście, online, 3/4 chats, best fit, least loaded"
    )


def test_when_nobody_fits_the_nearest_fit_is_named_honestly(roster: AgentRoster) -> None:
    request = RoutingRequest(conversation_id="widget:9", tier="Premium", language="de", category="hair")
    result = route(request, states(roster, marta=("online", 0), sophie=("online", 0)), CONFIG, OPEN)
    assert result.agent_id == "marta.nowak"
    assert "no one online speaks German" in result.explanation and "hair skill" in result.explanation


def test_nobody_online_means_the_queue(roster: AgentRoster) -> None:
    result = route(VIP_NAILS, states(roster, anna=("offline", 0), marta=("away", 0)), CONFIG, OPEN)
    assert result.agent_id is None and not result.out_of_hours
    assert result.explanation == (
        "VIP, Polish, nails -> nobody yet: concierge Anna is offline; "
        "no agent online with a free slot: waits in the queue"
    )


def test_outside_business_hours_the_client_is_told_when_to_expect_a_reply(roster: AgentRoster) -> None:
    # Saturday 28 Nov 2026, 23:30 in Warsaw; Mokotów opens again on Sunday at 10:00, the hours
    # the bot itself tells clients (data/demo/locations.csv)
    late = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    result = route(VIP_NAILS, states(roster, anna=("online", 0)), CONFIG, late)
    assert result.agent_id is None and result.out_of_hours
    assert result.expected_reply_at is not None
    assert result.expected_reply_at.isoformat() == "2026-11-29T10:00:00+01:00"
    assert result.client_message is not None and "jutro o 10:00" in result.client_message
    assert result.explanation == (
        "VIP, Polish, nails -> nobody yet: Warsaw Mokotów is closed; "
        "a person replies Sun 29 Nov 10:00 (Europe/Warsaw)"
    )


def test_the_agents_file(roster: AgentRoster) -> None:
    assert len(roster.agents) == 8
    anna = roster.get("anna.kowalska")
    assert anna is not None and anna.first_name == "Anna" and anna.max_chats == 3
    assert roster.get("nobody") is None
