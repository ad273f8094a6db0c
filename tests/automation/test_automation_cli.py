"""``concierge rules validate`` and ``concierge rules dry-run`` on a seeded log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.events import IntentPrediction, ParseData, SlotSet, UserUttered
from bot.store import EventStore
from concierge.cli import app

RULES = """
rules:
  - id: vip_complaint
    name: VIP complaint
    on: message_received
    if: {tier: [VIP], intent: [complaint]}
    then: [{tag: complaint}]
  - id: any_conversation
    name: Every new conversation
    on: conversation_created
    then: [{tag: new}]
"""


async def seed(url: str) -> None:
    store = EventStore.from_url(url)
    try:
        await store.migrate()
        now = time.time() - 3600
        for cid, tier, intent in [
            ("widget:a", "VIP", "complaint"),
            ("widget:b", "VIP", "complaint"),
            ("widget:c", "Standard", "complaint"),
            ("widget:d", "VIP", "greet"),
        ]:
            message = UserUttered(
                text="...", parse_data=ParseData(intent=IntentPrediction(name=intent)), timestamp=now
            )
            await store.append(cid, [SlotSet(name="tier", value=tier, timestamp=now), message])
    finally:
        await store.close()


def test_dry_run_reports_the_expected_counts(
    tmp_path: Path, repo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(seed(url))
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("CONCIERGE_DATABASE_URL", url)
    monkeypatch.setenv("CONCIERGE_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, ["rules", "dry-run", "--file", str(rules), "--project", str(repo_dir)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "would fire     2 times in     2 conversations" in lines["vip_complaint"]
    assert "would fire     4 times in     4 conversations" in lines["any_conversation"]
    assert "4 conversations of the last 30 days" in result.output


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("rules:\n  - {id: x, name: x, on: message_sent, then: [{tag: a, note: {text: b}}]}\n")
    result = CliRunner().invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == 1
    assert "rules.0.on" in result.output and "rules.0.then.0" in result.output
