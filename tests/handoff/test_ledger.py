"""Handoff state across conversations, read from the real event log (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from bot.events import BotUttered
from bot.store import EventStore
from handoff.agents import AgentProfile, AgentRoster
from handoff.ledger import HandoffLedger
from handoff.projections import handoff_projectors
from handoff.roster import AgentDirectory, UnknownAgent
from handoff.service import HandoffService
from handoff.state import HandoffStatus


@pytest.fixture
async def service(event_store: EventStore) -> HandoffService:
    for projector in handoff_projectors():  # the ledger reads the tickets read model
        event_store.add_projector(projector)
    clock = iter(range(1000, 2000, 10))
    return HandoffService(event_store, clock=lambda: float(next(clock)))


async def test_the_ledger_knows_every_conversations_latest_status(
    event_store: EventStore, service: HandoffService
) -> None:
    await service.request("widget:waiting", "client_request")
    await service.request("widget:with-anna", "rule:safety")
    await service.claim("widget:with-anna", "anna")
    await service.request("widget:done", "sentiment")
    await service.claim("widget:done", "anna")
    await service.resolve("widget:done", "anna")
    await service.request("widget:back", "repeated_fallback")
    await service.return_to_bot("widget:back", "olena")
    await event_store.append("widget:never", [BotUttered(text="hi")])  # never left the bot

    ledger = HandoffLedger(event_store.engine)
    latest = await ledger.latest()
    assert {cid: e.to_status for cid, e in latest.items()} == {
        "widget:waiting": "queued",
        "widget:with-anna": "assigned",
        "widget:done": "resolved",
        "widget:back": "bot",
    }
    assert await ledger.in_status(HandoffStatus.QUEUED) == ["widget:waiting"]
    assert await ledger.assigned() == {"widget:with-anna": "anna"}
    assert await ledger.loads() == {"anna": 1}


async def test_the_roster_combines_profiles_live_status_and_load_from_the_log(
    event_store: EventStore, service: HandoffService
) -> None:
    roster = AgentRoster(
        agents=[
            AgentProfile(id="anna", name="Anna Kowalska", languages=["pl", "en"], max_chats=2),
            AgentProfile(id="olena", name="Olena Shevchenko", languages=["uk"]),
        ]
    )
    directory = AgentDirectory(roster, HandoffLedger(event_store.engine))
    assert [(s.profile.id, s.status, s.active_chats) for s in await directory.states()] == [
        ("anna", "offline", 0),
        ("olena", "offline", 0),
    ]
    await directory.set_status("anna", "online")
    for conversation in ("widget:a", "widget:b"):
        await service.request(conversation, "client_request")
        await service.claim(conversation, "anna")
    anna, olena = await directory.states()
    assert (anna.status, anna.active_chats, anna.has_capacity, anna.load) == ("online", 2, False, "2/2 chats")
    assert olena.status == "offline"
    with pytest.raises(UnknownAgent):
        await directory.set_status("nobody", "online")
