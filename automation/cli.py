"""``concierge rules ...``: check automation rules and dry-run them on past conversations.

``concierge rules validate [FILE]`` validates a rules file (every problem listed);
``concierge rules dry-run [--file FILE] [--days N]`` counts how often each rule (the set in
force: the newest version saved in the console, else ``automation.yml``; or ``--file``)
would have fired on the conversations of the last N days. Nothing is written, no action runs.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

rules_app = typer.Typer(help="Automation rules (validate, dry-run).", no_args_is_help=True)
err = Console(stderr=True)

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="the bot project directory")]


@rules_app.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="rules file")] = Path("automation.yml")) -> None:
    """Validate a rules file; exit 1 listing every problem."""
    from automation.rules import RulesInvalid, parse_rules

    try:
        rules = parse_rules(file.read_text(encoding="utf-8"), str(file))
    except (RulesInvalid, OSError) as exc:
        err.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(code=1) from None
    print(f"{file}: {len(rules.rules)} rules, valid")


@rules_app.command("dry-run")
def dry_run_command(
    days: Annotated[
        int, typer.Option("--days", min=1, max=3650, help="conversations of the last N days")
    ] = 30,
    file: Annotated[
        Path | None, typer.Option("--file", help="rules to try instead of those in force")
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """How often each rule would have fired on past conversations."""
    from automation.repository import FILE_NAME, RulesRepository
    from automation.rules import RulesInvalid, parse_rules
    from automation.service import dry_run_for
    from bot.errors import ConciergeError
    from bot.live import InProcessFeed
    from bot.loaders import load_domain
    from bot.locks import InMemoryLockStore
    from bot.settings import Settings
    from bot.store import EventStore
    from bot.writer import ConversationWriter
    from handoff.runtime import build_handoff

    settings = Settings(project_dir=project.resolve())
    root = settings.project_dir

    async def main() -> tuple[int, object]:
        settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
        store = EventStore.from_url(settings.resolved_database_url())
        try:
            await store.migrate()
            writer = ConversationWriter(store, InMemoryLockStore(), InProcessFeed())
            runtime = await build_handoff(
                writer, root, domain=load_domain([root / "domain.yml"]), nlg=None, sentiment=None
            )
            if runtime is None:
                raise ConciergeError(
                    "this project has no handoff data (handoff.yml or agents): no rules to run"
                )
            if file is not None:
                version, rules = -1, parse_rules(file.read_text(encoding="utf-8"), str(file))
            else:
                version, rules = await RulesRepository(store.engine, root / FILE_NAME).rules()
            now = time.time()
            report = await dry_run_for(store, runtime, rules, now=now, since=now - days * 86_400)
            await runtime.close()
            return version, report
        finally:
            await store.close()

    try:
        version, report = asyncio.run(main())
    except (RulesInvalid, ConciergeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    from automation.dry_run import DryRunReport

    assert isinstance(report, DryRunReport)
    source = f"--file {file}" if file is not None else f"rules version {version}"
    print(f"{source}; {report.conversations} conversations of the last {days} days")
    for count in report.rules:
        print(
            f"{count.rule_id:32} on {count.trigger:20} would fire {count.fired:5} times "
            f"in {count.conversations:5} conversations"
        )
