"""``concierge privacy export/erase/retention`` on a project's own SQLite database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from bot.settings import Settings
from bot.store import EventStore
from concierge.cli import app
from tests.privacy.seed import Person, seed_person
from tests.privacy.test_privacy_retention import chat


def seed(root: Path) -> Person:
    settings = Settings(project_dir=root)

    async def main() -> Person:
        settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
        store = EventStore.from_url(settings.resolved_database_url())
        try:
            await store.migrate()
            person = await seed_person(
                store,
                settings.resolved_state_dir() / "attachments",
                phone="+48 601 234 567",
                email="ottilie.q@example.org",
                first="Ottilie",
                last="Quennell",
                handle="ottilie_q",
                numeric="555000111",
            )
            await chat(store, "widget:stranger", 40)  # anonymous, past this project's 30 days
            return person
        finally:
            await store.close()

    return asyncio.run(main())


def test_export_erase_with_confirmation_and_retention(tmp_path: Path) -> None:
    (tmp_path / "handoff.yml").write_text("privacy:\n  retention:\n    anonymous_conversations_days: 30\n")
    person = seed(tmp_path)
    # the demo actions' bookings database: this test's own
    runner = CliRunner(env={"CONCIERGE_BOOKINGS_URL": f"sqlite:///{tmp_path / 'bookings.db'}"})
    project = ["--project", str(tmp_path)]

    archive = tmp_path / "ottilie.json"
    exported = runner.invoke(app, ["privacy", "export", "601 234 567", "--out", str(archive), *project])
    assert exported.exit_code == 0, exported.output
    data = json.loads(archive.read_text())
    assert data["subject"]["client_id"] == person.client_id and person.email in archive.read_text()
    assert archive.stat().st_mode & 0o077 == 0  # readable by its owner only

    declined = runner.invoke(app, ["privacy", "erase", person.email, *project], input="n\n")
    assert declined.exit_code == 1 and "nothing was erased" in declined.output
    assert "This cannot be undone" in declined.output and "Quennell" not in declined.output
    assert runner.invoke(app, ["privacy", "export", person.email, *project]).exit_code == 0

    erased = runner.invoke(app, ["privacy", "erase", person.email, *project], input="y\n")
    assert erased.exit_code == 0, erased.output
    report = json.loads(erased.stdout[erased.stdout.index("{") :])
    assert report["subject"] == f"client:{person.client_id}"
    assert report["conversations"] == len(person.conversations)
    missing = runner.invoke(app, ["privacy", "erase", person.phone_e164, "--yes", *project])
    assert missing.exit_code == 1 and "error" in missing.output

    dry = runner.invoke(app, ["privacy", "retention", "--dry-run", *project])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["conversations"] == 1 and json.loads(dry.stdout)["dry_run"] is True
    done = runner.invoke(app, ["privacy", "retention", *project])
    assert json.loads(done.stdout)["conversations"] == 1
    again = runner.invoke(app, ["privacy", "retention", *project])
    assert json.loads(again.stdout)["conversations"] == 0
