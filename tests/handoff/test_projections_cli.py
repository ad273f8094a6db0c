"""``concierge projections rebuild`` fills the read models from a real SQLite project database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from bot.events import HandoffStatusChanged, UserUttered
from bot.settings import Settings
from bot.store import EventStore
from concierge.cli import app
from handoff.ledger import HandoffLedger
from handoff.state import HandoffStatus


def test_rebuild_replays_the_log_into_the_read_models(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path)

    async def write_history() -> None:
        settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
        store = EventStore.from_url(settings.resolved_database_url())
        await store.migrate()
        await store.append(  # no read models registered: as a log restored from a backup
            "widget:w1",
            [
                UserUttered(text="help", timestamp=1.0),
                HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", timestamp=2.0),
            ],
        )
        await store.close()

    async def queued() -> list[str]:
        store = EventStore.from_url(settings.resolved_database_url())
        try:
            return await HandoffLedger(store.engine).in_status(HandoffStatus.QUEUED)
        finally:
            await store.close()

    asyncio.run(write_history())
    assert asyncio.run(queued()) == []
    runner = CliRunner()
    result = runner.invoke(app, ["projections", "rebuild", "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "from 1 conversations" in result.output
    assert asyncio.run(queued()) == ["widget:w1"]

    unknown = runner.invoke(app, ["projections", "rebuild", "--only", "nope", "--project", str(tmp_path)])
    assert unknown.exit_code == 1
    assert "no projector named nope" in unknown.output
