"""``concierge users add/list/set-password`` on a real SQLite database."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from bot.settings import Settings
from concierge.cli import app
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


async def token_state(project_dir: Path, secret: str) -> tuple[str | None, list[str], list[str]]:
    """The state of the token ``secret`` (None if unknown), its scopes, and the token.* audit actions."""
    from console.audit import AuditFilter

    platform = ConsolePlatform(Settings(project_dir=project_dir), None)
    try:
        await platform.ready()
        found = await platform.tokens.resolve(secret)
        entries, _ = await platform.audit.entries(AuditFilter(action="token.*"))
        actions = [f"{e.actor} {e.action} {e.target}" for e in reversed(entries)]
        return (found.state().value, list(found.scopes), actions) if found else (None, [], actions)
    finally:
        await platform.close()


def test_tokens_create_list_revoke(tmp_path: Path, repo_dir: Path) -> None:
    root = project(tmp_path, repo_dir)
    runner = CliRunner()
    create = ["tokens", "create", "--name", "salon", "--scope", "clients:write", "--scope", "clients:read"]
    made = runner.invoke(app, [*create, "--expires-days", "90", "--project", str(root)])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()  # the token alone on standard output
    assert secret.startswith("cct_") and "\n" not in secret
    assert asyncio.run(token_state(root, secret))[:2] == ("active", ["clients:read", "clients:write"])
    listed = runner.invoke(app, ["tokens", "list", "--project", str(root)])
    assert listed.exit_code == 0 and secret not in listed.stdout
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["name"], row["state"], row["created_by"]) == ("salon", "active", "cli")
    revoked = runner.invoke(app, ["tokens", "revoke", str(row["id"]), "--project", str(root)])
    assert revoked.exit_code == 0, revoked.output
    state, _, actions = asyncio.run(token_state(root, secret))
    assert state == "revoked"
    assert actions == [f"cli token.create token:{row['id']}", f"cli token.revoke token:{row['id']}"]
    again = runner.invoke(app, ["tokens", "revoke", str(row["id"]), "--project", str(root)])
    assert again.exit_code == 1 and "already revoked" in again.output
    for args, message in (
        (["create", "--name", "x", "--scope", "users:write"], "--scope must be one or more of"),
        (["create", "--name", "x", "--scope", "clients:read", "--expires-days", "0"], "--expires-days"),
        (["create", "--name", "a:b", "--scope", "clients:read"], "--name"),
        (["revoke", "999"], "no API token with id 999"),
    ):
        result = runner.invoke(app, ["tokens", *args, "--project", str(root)])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
