"""``concierge users ...`` and ``concierge tokens ...``: console accounts and API tokens
from the command line.

Typer sub-apps; ``concierge/cli.py`` mounts them with ``app.add_typer(users_app, name="users")``
and ``app.add_typer(tokens_app, name="tokens")``.
Passwords are typed at a hidden prompt (twice) or read from standard input with
``--password-stdin`` (one line, for scripts); they never appear as arguments. Changes
are written to the audit log with the actor ``cli``.

    concierge users add anna.kowalska --role agent --agent-id anna.kowalska --name "Anna Kowalska"
    concierge users list
    concierge users set-password anna.kowalska
    concierge tokens create --name salon --scope clients:write --expires-days 90
    concierge tokens list
    concierge tokens revoke 3

A new token is printed once on standard output (everything else goes to standard error),
so ``concierge tokens create ... > salon.token`` captures only the token.
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
tokens_app = typer.Typer(help="API tokens for other systems: create, list, revoke.", no_args_is_help=True)
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


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Option("--name", help="the system it is for, e.g. salon")],
    scope: Annotated[
        list[str], typer.Option("--scope", help="a scope it carries (repeat for several)", show_default=False)
    ],
    expires_days: Annotated[int, typer.Option("--expires-days", help="days until it stops working")] = 90,
    project: ProjectOption = Path("."),
) -> None:
    """Make an API token and print it once (it is stored only as a hash)."""
    import datetime as dt
    import re

    from console.audit import record
    from console.security.tokens import MAX_EXPIRES_DAYS, NAME_PATTERN, SCOPES, TokenError

    unknown = sorted(set(scope) - set(SCOPES))
    if unknown or not scope:
        _fail(f"--scope must be one or more of {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
    if not re.fullmatch(NAME_PATTERN, name):
        _fail("--name is 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit")
    if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        _fail(f"--expires-days must be 1 to {MAX_EXPIRES_DAYS}")

    async def work(platform):  # type: ignore[no-untyped-def]
        token, secret = await platform.tokens.create(
            name, scope, expires_in=dt.timedelta(days=expires_days), created_by="cli"
        )
        detail = {"name": token.name, "scopes": token.scopes, "expires_at": token.expires_at.isoformat()}
        await record(platform, "cli", "token.create", f"token:{token.id}", detail)
        return token, secret

    try:
        token, secret = _run(project, work)
    except TokenError as exc:
        _fail(str(exc))
    err.print(
        f"created API token {token.id} {token.name!r} ({', '.join(token.scopes)}), "
        f"expires {token.expires_at:%Y-%m-%d}; it is shown only now:"
    )
    print(secret)


@tokens_app.command("list")
def list_tokens(project: ProjectOption = Path(".")) -> None:
    """Print every API token as JSON lines (never the token itself, which is not stored)."""

    async def work(platform):  # type: ignore[no-untyped-def]
        return await platform.tokens.list()

    for token in _run(project, work):
        print(json.dumps({**token.model_dump(mode="json"), "state": token.state().value}))


@tokens_app.command("revoke")
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="the token's id (see 'concierge tokens list')")],
    project: ProjectOption = Path("."),
) -> None:
    """Revoke an API token: its next use is refused."""
    from console.audit import record
    from console.security.tokens import TokenError

    if not 1 <= token_id <= 2**31 - 1:
        _fail(f"no API token with id {token_id}")

    async def work(platform):  # type: ignore[no-untyped-def]
        token = await platform.tokens.revoke(token_id, "cli")
        await record(platform, "cli", "token.revoke", f"token:{token.id}", {"name": token.name})
        return token

    try:
        token = _run(project, work)
    except TokenError as exc:
        _fail(str(exc))
    err.print(f"revoked API token {token.id} {token.name!r}")
