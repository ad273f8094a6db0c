"""``concierge projections ...``: the read models derived from the event log.

``concierge projections rebuild`` replays the whole log into the read models (all, or
``--only NAME``): after restoring a backup, after a bug fix in a projector, or to check
that nothing drifted. Run it while no bot or console process is writing (an append that
lands between two batches of the replay would be counted twice). ``concierge projections
list`` names them. The read models a running bot keeps are registered by its wiring code;
this command registers the same ones on a store of its own.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

projections_app = typer.Typer(
    help="Read models derived from the event log (rebuild, list).", no_args_is_help=True
)
err = Console(stderr=True)

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="the bot project directory")]


def _rebuildable() -> list[object]:
    """The read models rebuilt from the log (the outbox is not one: its rows are providers' receipts)."""
    from handoff.projections import handoff_projectors
    from knowledge.gaps import GapProjector

    return [*handoff_projectors(), GapProjector()]


@projections_app.command("list")
def list_projections() -> None:
    """Name every read model ``rebuild`` knows."""
    for projector in _rebuildable():
        handles = sorted(projector.handles) or ["every event"]  # type: ignore[attr-defined]
        print(f"{projector.name}: follows {', '.join(handles)}")  # type: ignore[attr-defined]


@projections_app.command("rebuild")
def rebuild(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="rebuild only this read model (repeatable)")
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Throw the read models away and replay the whole event log into them."""
    from bot.errors import ConfigError
    from bot.settings import Settings
    from bot.store import EventStore

    settings = Settings(project_dir=project.resolve())

    async def main() -> int:
        settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
        store = EventStore.from_url(settings.resolved_database_url())
        try:
            await store.migrate()
            for projector in _rebuildable():
                store.add_projector(projector)  # type: ignore[arg-type]
            return await store.rebuild_projections(only or None)
        finally:
            await store.close()

    started = time.perf_counter()
    try:
        conversations = asyncio.run(main())
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    names = ", ".join(only) if only else "all read models"
    print(f"rebuilt {names} from {conversations} conversations in {time.perf_counter() - started:.1f}s")
