"""``concierge privacy ...``: export, erase and retention from the command line.

    concierge privacy export "+48 601 234 567" --out anna.json
    concierge privacy erase anna@example.com            # asks first; --yes for scripts
    concierge privacy retention --dry-run

CLIENT is a client id, a phone number in any common notation, an e-mail address or a
conversation id. Every command is audited with the actor ``cli``. Output goes to the
terminal only (never to the logs): the archive on stdout or into ``--out``, reports as JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from privacy.subject import SubjectNotFound

privacy_app = typer.Typer(help="Personal data: export, erase, retention.", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")

ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="the bot project directory")]
ClientArg = Annotated[
    str, typer.Argument(help="client id, phone number (any notation), e-mail address or conversation id")
]


def _with_service(project: Path, work: Callable[..., Awaitable[T]]) -> T:
    """Open the project's database (migrated), run ``work(service)``, close."""
    from bot.settings import Settings
    from bot.store import EventStore
    from privacy.service import PrivacyService

    settings = Settings(project_dir=project.resolve())

    async def main() -> T:
        settings.resolved_state_dir().mkdir(parents=True, exist_ok=True)
        store = EventStore.from_url(settings.resolved_database_url())
        try:
            await store.migrate()
            return await work(PrivacyService.for_settings(settings, store.engine))
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except SubjectNotFound as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None


@privacy_app.command("export")
def export(
    client: ClientArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the archive here")] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Print (or write) a JSON archive of everything held about CLIENT."""

    async def work(service):  # type: ignore[no-untyped-def]
        return await service.export(client, actor="cli")

    archive = json.dumps(_with_service(project, work), indent=2, ensure_ascii=False)
    if out is None:
        print(archive)
    else:
        out.write_text(archive + "\n", encoding="utf-8")
        out.chmod(0o600)
        err.print(f"archive written to {out}")


@privacy_app.command("erase")
def erase(
    client: ClientArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Erase everything held about CLIENT (profiles, conversations, outbox, gaps, files,
    audit values); the audit log keeps that the erase happened."""

    async def work(service):  # type: ignore[no-untyped-def]
        subject = await service.subject(client)
        who = f"client {subject.primary}" if subject.primary else "this sender"
        kinds = ", ".join(sorted({i.kind for i in subject.identities})) or "none"
        prompt = (
            f"Erase everything held about {who}: {len(subject.conversation_ids)} conversation(s), "
            f"identities ({kinds})? This cannot be undone"
        )
        if not yes and not await asyncio.to_thread(typer.confirm, prompt, err=True):
            return None
        return await service.erase(client, actor="cli")

    report = _with_service(project, work)
    if report is None:
        err.print("nothing was erased")
        raise typer.Exit(code=1)
    print(report.model_dump_json(indent=2))
    if report.pending:  # a store refused: the request is recorded, the retention job finishes it
        err.print(
            f"[yellow]not finished:[/yellow] {', '.join(report.pending)} failed; erase request "
            f"{report.erasure} stays pending until `concierge privacy retention` (or the server's "
            "scheduled run) completes it"
        )
        raise typer.Exit(code=2)


@privacy_app.command("retention")
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would go; change nothing")] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Delete everything past its time to live (handoff.yml ``privacy.retention``) now."""

    async def work(service):  # type: ignore[no-untyped-def]
        return await service.retention(dry_run=dry_run, actor="cli")

    report = _with_service(project, work)
    if not report.ran:
        err.print("another process is running retention right now; nothing done")
        raise typer.Exit(code=1)
    print(report.model_dump_json(indent=2))
