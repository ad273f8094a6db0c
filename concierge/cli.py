"""The ``concierge`` command: init, train, run, shell, test, and the sub-commands of the
packages below (``kb``, ``users``, ``tokens``, ``privacy``, ``projections``).

It lives in the composition root because it wires every package: ``run`` serves the app
:mod:`concierge.serve` builds, ``shell`` talks to the engine :mod:`concierge.compose` builds.
Every command takes ``--project DIR`` (default: the current directory), like Rasa's CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.errors import ConciergeError

if TYPE_CHECKING:
    from bot.settings import Settings

app = typer.Typer(add_completion=False, help="Concierge: a support bot with human handoff (Rasa 3 formats).")
console = Console(stderr=True)

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="the bot project directory")]
ModelOpt = Annotated[Path | None, typer.Option("--model", "-m", help="where the trained model lives")]

DEMO_FILES = ["domain.yml", "config.yml", "endpoints.yml", "data", "tests/test_stories.yml"]


def _offline() -> None:
    """Nothing downloads at run time: the embedding model ships inside a package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_dir(project: Path) -> Path:
    """``<project>/models`` when writable, else a per-project cache (public bots are read-only)."""
    project = project.resolve()
    if os.access(project, os.W_OK):
        return project / "models"
    key = hashlib.sha256(str(project).encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "concierge" / "models" / key


@contextmanager
def _progress():
    """A progress bar fed by the ``(stage, fraction)`` callbacks of training and testing."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1.0)
            bar.update(tasks[stage], completed=min(max(fraction, 0.0), 1.0))

        yield update


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


def _load_agent(project: Path, model: Path | None):
    from bot.agent import Agent

    with _progress() as progress:
        return Agent.load_or_train(project.resolve(), model or default_model_dir(project), progress=progress)


@app.command()
def init(project: ProjectOpt = Path("."), force: bool = typer.Option(False, help="overwrite files")) -> None:
    """Create a new bot project from the Mariia Hub demo (domain, config, data, test stories)."""
    source = Path(__file__).resolve().parent.parent
    project.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        src, dst = source / name, project / name
        if dst.exists() and not force:
            console.print(f"kept existing {dst}")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    console.print(f"created a bot project in {project.resolve()}; next: concierge train --project {project}")


@app.command()
def train(project: ProjectOpt = Path("."), model: ModelOpt = None) -> None:
    """Train NLU and dialogue policies and save the model."""
    _offline()
    from bot.agent import Agent
    from bot.loaders import load_project

    try:
        loaded = load_project(project.resolve())
        for warning in loaded.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}")
        with _progress() as progress:
            agent = Agent.train(loaded, progress=progress)
        target = model or default_model_dir(project)
        agent.save(target)
    except ConciergeError as exc:
        _fail(exc)
    console.print(f"model saved to {target}")


@app.command()
def run(
    project: ProjectOpt = Path("."),
    model: ModelOpt = None,
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(5005, help="port to listen on"),
    workers: int = typer.Option(
        1, min=1, help="worker processes on the port (more than 1 needs CONCIERGE_REDIS_URL)"
    ),
) -> None:
    """Serve the bot: REST and widget channels, the demo page and the console.

    With ``--workers N`` the port is served by N processes (uvicorn workers); they share
    the database and Redis (locks, agent presence, live delivery), start one at a time
    and follow each other's knowledge edits; see docs/deployment.md.
    """
    _offline()
    import uvicorn

    from bot.settings import Settings
    from concierge.serve import WEBSOCKET_OPTIONS, create_app

    settings = Settings(project_dir=project.resolve(), model_dir=model, host=host, port=port)
    try:
        _load_agent(project, model or default_model_dir(project))  # train up front, with a progress bar
    except ConciergeError as exc:
        _fail(exc)
    settings.model_dir = model or default_model_dir(project)
    if workers > 1:
        _serve_workers(settings, workers)
        return
    _announce_when_answering(host, port, "")
    # X-Forwarded-For is read by the app itself, from CONCIERGE_TRUSTED_PROXIES only (console/limits.py)
    uvicorn.run(
        create_app(settings), host=host, port=port, log_level="info", proxy_headers=False, **WEBSOCKET_OPTIONS
    )


def _announce_when_answering(host: str, port: int, what: str, *, timeout: float = 600.0) -> None:
    """Print "Concierge is up" once the server answers HTTP, not before: building the engine
    (models, the knowledge index) takes seconds, and a URL printed earlier only fails.

    A daemon thread polls ``/health`` (any answer counts: a 503 still means the server is up
    and says what is degraded there); if nothing answers within ``timeout`` it says so.
    """
    import threading
    import time
    import urllib.error
    import urllib.request

    probe_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    url = f"http://{probe_host}:{port}/health"

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    pass
            except urllib.error.HTTPError:
                pass  # it answered (e.g. 503 while Redis is down): the server is serving
            except OSError:
                time.sleep(0.2)
                continue
            console.print(
                f"Concierge is up{what}: demo page http://{host}:{port}/  console http://{host}:{port}/console"
            )
            return
        console.print(f"[yellow]Concierge did not answer on {url} within {timeout:.0f} s[/yellow]")

    threading.Thread(target=wait, name="announce", daemon=True).start()


def _serve_workers(settings: Settings, workers: int) -> None:
    """``workers`` uvicorn processes building the app from the environment (concierge.serve)."""
    import uvicorn

    from concierge.serve import WEBSOCKET_OPTIONS

    if not settings.redis_url:
        _fail(
            ConciergeError(
                "--workers needs CONCIERGE_REDIS_URL: the workers share conversation locks, "
                "agent presence and live delivery through Redis"
            )
        )
    if settings.resolved_database_url().startswith("sqlite"):
        console.print("[yellow]warning:[/yellow] several workers on SQLite; use PostgreSQL in production")
    os.environ.update(
        {
            "CONCIERGE_PROJECT_DIR": str(settings.project_dir),
            "CONCIERGE_MODEL_DIR": str(settings.resolved_model_dir()),
            "CONCIERGE_HOST": settings.host,
            "CONCIERGE_PORT": str(settings.port),
        }
    )
    _announce_when_answering(settings.host, settings.port, f" ({workers} workers)")
    uvicorn.run(
        "concierge.serve:create_app_from_env",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=False,  # X-Forwarded-For is read by the app itself (console/limits.py)
        **WEBSOCKET_OPTIONS,
    )


@app.command()
def shell(project: ProjectOpt = Path("."), model: ModelOpt = None) -> None:
    """Talk to the bot in the terminal (one conversation, stored like any other)."""
    _offline()
    from bot.models import InboundMessage
    from bot.settings import Settings
    from concierge.compose import build_engine

    _load_agent(project, model)
    settings = Settings(project_dir=project.resolve(), model_dir=model or default_model_dir(project))

    async def loop() -> None:
        engine = await build_engine(settings)
        console.print("Type a message (Ctrl-D to quit).")
        while True:
            try:
                text = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            for reply in await engine.handle(
                InboundMessage(channel="shell", sender_id="terminal", text=text)
            ):
                print(f"bot> {reply.text or ''}")
                for b in reply.buttons:
                    print(f"     [{b.title}] {b.payload}")
        await engine.close()

    asyncio.run(loop())


@app.command()
def test(
    project: ProjectOpt = Path("."),
    model: ModelOpt = None,
    stories: Path | None = typer.Option(None, help="test stories file (default: the project's tests/)"),
    nlu: Path | None = typer.Option(None, help="NLU test file (default: a held-out split of data/)"),
    split: float = typer.Option(0.2, help="held-out fraction when no NLU test file is given"),
    out: Path = typer.Option(Path("results"), help="where reports are written"),
    seed: int = typer.Option(42, help="seed of the NLU split"),
) -> None:
    """Evaluate like ``rasa test``: NLU on held-out data, test stories step by step."""
    _offline()
    from bot.evaluate import run_tests

    try:
        with _progress() as progress:
            summary = run_tests(
                project.resolve(),
                model or default_model_dir(project),
                out,
                stories_file=stories,
                nlu_file=nlu,
                split=split,
                seed=seed,
                progress=progress,
            )
    except ConciergeError as exc:
        _fail(exc)
    print(json.dumps(summary, indent=2))


def _mount_subcommands() -> None:
    """``concierge kb ...``: the knowledge base's commands live with the knowledge package."""
    from knowledge.cli import kb_app

    app.add_typer(kb_app, name="kb")
    from console.cli import tokens_app, users_app  # ``concierge users/tokens ...``: accounts, API tokens

    app.add_typer(users_app, name="users")
    from privacy.cli import privacy_app  # ``concierge privacy ...``: export, erase, retention

    app.add_typer(privacy_app, name="privacy")
    app.add_typer(tokens_app, name="tokens")
    from handoff.projections_cli import projections_app  # ``concierge projections rebuild``

    app.add_typer(projections_app, name="projections")
    from automation.cli import rules_app  # ``concierge rules dry-run``

    app.add_typer(rules_app, name="rules")


_mount_subcommands()


def main() -> None:
    """Entry point of the ``concierge`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from privacy.logs import install

    install()  # every log line without phones, e-mails or query strings (create_app does it too)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
