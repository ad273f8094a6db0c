"""@mentions in a private note reach the mentioned agent's workspace through the live hub,
which watches the shared event log (so a note written on another process counts too)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.events import AgentNoteAdded, UserUttered
from bot.store import EventStore
from console.services.workspace.live import WorkspaceHub
from console.services.workspace.mentions import MENTIONS_KEY, mentioned_agents
from console.services.workspace.queue import QueueBuilder
from handoff.agents import load_agents
from tests.automation.automation_support import Clock, runtime_on

OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=UTC).timestamp()


def test_handles_match_ids_first_names_and_nothing_else(repo_dir: Path) -> None:
    agents = load_agents(repo_dir / "data" / "agents.yml").agents
    text = "@olena can you take this? cc @Piotr, @marta.nowak. Not @nobody, not ola@example.com, again @OLENA"
    assert mentioned_agents(text, agents) == ["olena.shevchenko", "piotr.wisniewski", "marta.nowak"]
    assert mentioned_agents("no handles here", agents) == []


async def test_the_mentioned_agent_is_told_live_and_nobody_else(tmp_path: Path, repo_dir: Path) -> None:
    store = EventStore.from_url(f"sqlite:///{tmp_path / 'mentions.db'}")
    await store.migrate()
    try:
        runtime = await runtime_on(store, repo_dir, Clock(OPEN))
        hub = WorkspaceHub(store.engine, QueueBuilder(runtime), interval=0.05)
        olena, anna = hub.subscribe("olena.shevchenko"), hub.subscribe("anna.kowalska")
        await store.append("widget:m1", [UserUttered(text="hello", timestamp=OPEN)])
        await asyncio.sleep(0.2)  # the hub has its cursor: the note below is news
        text = "@olena this client prefers Ukrainian"
        mentions = mentioned_agents(text, runtime.roster.profiles)
        note = AgentNoteAdded(
            text=text, author="Anna Kowalska", timestamp=OPEN, metadata={MENTIONS_KEY: mentions}
        )
        (seq,) = await store.append("widget:m1", [note])
        told = []
        for _ in range(100):
            await asyncio.wait_for(olena.next(), timeout=10)
            told = olena.take_mentions()
            if told:
                break
        assert [(m.conversation_id, m.seq, m.author) for m in told] == [("widget:m1", seq, "Anna Kowalska")]
        assert anna.take_mentions() == []
        await hub.close()
    finally:
        await store.close()
