"""``concierge users add/list/set-password`` on a real SQLite database."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.settings import Settings
from console.security.platform import ConsolePlatform


def project(tmp_path: Path, repo_dir: Path) -> Path:
    (tmp_path / "data").mkdir()
    shutil.copy(repo_dir / "data" / "agents.yml", tmp_path / "data" / "agents.yml")
    return tmp_path


async def check_login(project_dir: Path, username: str, password: str) -> bool:
    platform = ConsolePlatform(Settings(project_dir=project_dir), None)
    try:
        await platform.ready()
        found = await platform.accounts.credentials(username)
        return found is not None and (await platform.passwords.verify(found[1], password)).ok
    finally:
        await platform.close()


def test_add_list_and_set_password(tmp_path: Path, repo_dir: Path) -> None:
    root = project(tmp_path, repo_dir)
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "users",
            "add",
            "anna.kowalska",
            "--role",
            "agent",
            "--agent-id",
            "anna.kowalska",
            "--password-stdin",
            "--project",
            str(root),
        ],
        input="first password 1\n",
    )
    assert added.exit_code == 0, added.output
    prompted = runner.invoke(
        app,
        ["users", "add", "ewa", "--role", "editor", "--name", "Ewa Z", "--project", str(root)],
        input="second password\nsecond password\n",
    )
    assert prompted.exit_code == 0, prompted.output
    listed = runner.invoke(app, ["users", "list", "--project", str(root)])
    users = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(u["username"], u["display_name"], u["role"], u["agent_id"]) for u in users] == [
        ("anna.kowalska", "Anna Kowalska", "agent", "anna.kowalska"),
        ("ewa", "Ewa Z", "editor", None),
    ]
    assert "argon2" not in listed.stdout
    changed = runner.invoke(
        app,
        ["users", "set-password", "ewa", "--password-stdin", "--project", str(root)],
        input="a brand new one\n",
    )
    assert changed.exit_code == 0, changed.output
    assert asyncio.run(check_login(root, "ewa", "a brand new one"))
    assert not asyncio.run(check_login(root, "ewa", "second password"))


def test_mistakes_exit_1_with_a_reason(tmp_path: Path, repo_dir: Path) -> None:
    root = project(tmp_path, repo_dir)
    runner = CliRunner()
    cases = [
        (["users", "add", "x.y", "--role", "boss"], "first password 1\n", "--role must be one of"),
        (
            ["users", "add", "x.y", "--role", "agent", "--agent-id", "nobody"],
            "first password 1\n",
            "no agent 'nobody'",
        ),
        (["users", "add", "x.y", "--role", "agent"], "short\n", "at least 10 characters"),
        (["users", "set-password", "ghost"], "first password 1\n", "no user 'ghost'"),
    ]
    for args, stdin, message in cases:
        result = runner.invoke(app, [*args, "--password-stdin", "--project", str(root)], input=stdin)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    runner.invoke(
        app,
        ["users", "add", "x.y", "--role", "admin", "--password-stdin", "--project", str(root)],
        input="first password 1\n",
    )
    again = runner.invoke(
        app,
        ["users", "add", "X.Y", "--role", "admin", "--password-stdin", "--project", str(root)],
        input="first password 1\n",
    )
    assert again.exit_code == 1 and "taken" in again.output
