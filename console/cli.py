"""``concierge users ...``: console accounts from the command line.

A typer sub-app; ``bot/cli.py`` mounts it with ``app.add_typer(users_app, name="users")``.
Passwords are typed at a hidden prompt (twice) or read from standard input with
``--password-stdin`` (one line, for scripts); they never appear as arguments. Changes
are written to the audit log with the actor ``cli``.

    concierge users add anna.kowalska --role agent --agent-id anna.kowalska --name "Anna Kowalska"
    concierge users list
    concierge users set-password anna.kowalska
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from console.security.accounts import AccountError
from console.security.models import ROLES
from console.security.passwords import WeakPassword, check_strength

users_app = typer.Typer(help="Console accounts: add, list, set passwords.", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="the bot project directory")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input (one line)")
]


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        check_strength(password)
    except WeakPassword as exc:
        _fail(str(exc))
    return password


def _run(project: Path, work: Callable[..., Awaitable[T]]) -> T:
    """Open the console platform on the project's database, run ``work(platform)``, close."""
    from bot.settings import Settings
    from console.security.platform import ConsolePlatform

    settings = Settings(project_dir=project.resolve())

    async def main() -> T:
        platform = ConsolePlatform(settings, None)
        try:
            return await work(await platform.ready())
        finally:
            await platform.close()

    return asyncio.run(main())


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="lower-case letters, digits, '.', '_', '-'")],
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ROLES)}")],
    agent_id: Annotated[
        str | None, typer.Option("--agent-id", help="the agent's id in data/agents.yml (agents)")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="display name (default: from agents.yml)")
    ] = None,
    password_stdin: StdinOption = False,
    project: ProjectOption = Path("."),
) -> None:
    """Create a console account."""
    from console.audit import record
    from console.routes.users import known_agent_ids

    if role not in ROLES:
        _fail(f"--role must be one of {', '.join(ROLES)}")
    password = _password(password_stdin)

    async def work(platform):  # type: ignore[no-untyped-def]
        display = name
        if agent_id:
            known = known_agent_ids(platform)
            if known is not None and agent_id not in known:
                raise AccountError(f"no agent {agent_id!r} in data/agents.yml")
            if display is None:
                from handoff.agents import load_agents

                profile = load_agents(platform.settings.project_dir / "data" / "agents.yml").get(agent_id)
                display = profile.name if profile else None
        created = await platform.accounts.create(
            username,
            display_name=display or username,
            role=role,
            agent_id=agent_id,
            password_hash=await platform.passwords.hash(password),
        )
        await record(platform, "cli", "user.create", f"user:{created.username}", {"role": role})
        return created

    try:
        created = _run(project, work)
    except AccountError as exc:
        _fail(str(exc))
    err.print(f"created {created.username} ({created.role})")


@users_app.command("list")
def list_users(project: ProjectOption = Path(".")) -> None:
    """Print every account as JSON lines (never a password hash)."""

    async def work(platform):  # type: ignore[no-untyped-def]
        return await platform.accounts.list()

    for user in _run(project, work):
        print(json.dumps(user.model_dump(mode="json")))


@users_app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument()],
    password_stdin: StdinOption = False,
    project: ProjectOption = Path("."),
) -> None:
    """Set a new password for an account and end its sessions."""
    from console.audit import record

    password = _password(password_stdin)

    async def work(platform):  # type: ignore[no-untyped-def]
        user = await platform.accounts.by_username(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        await platform.accounts.set_password_hash(user.id, await platform.passwords.hash(password))
        ended = await platform.sessions.end_all(user.id)
        await record(
            platform, "cli", "user.password_reset", f"user:{user.username}", {"sessions_ended": ended}
        )
        return user

    try:
        user = _run(project, work)
    except AccountError as exc:
        _fail(str(exc))
    err.print(f"password changed for {user.username}")
