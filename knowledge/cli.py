"""``concierge kb ...``: ingest articles, ask a question, run the golden questions, list gaps.

A typer sub-app; ``concierge/cli.py`` mounts it with ``app.add_typer(kb_app, name="kb")``.
Machine-readable results go to stdout as JSON; progress bars go to stderr.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

kb_app = typer.Typer(
    help="Knowledge base: ingest articles, ask, run golden questions, list gaps.", no_args_is_help=True
)

ProjectOption = Annotated[Path, typer.Option("--project", help="project directory")]
err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=not sys.stderr.isatty(),
    )


async def _services(project: Path, *, with_db: bool):  # type: ignore[no-untyped-def]
    """Settings, encoder, (migrated) database engine and the wired knowledge base."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from bot.nlu.language import LanguageDetector
    from bot.settings import Settings
    from knowledge.encoder import default_encoder
    from knowledge.settings import KnowledgeSettings, build_knowledge

    settings = Settings(project_dir=project)
    kb_settings = KnowledgeSettings()
    state_dir = settings.resolved_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    engine = None
    if with_db:
        from bot.migrations import upgrade
        from bot.store.database import create_engine

        engine = create_engine(settings.resolved_database_url())
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    detector = LanguageDetector(kb_settings.default_language, kb_settings.languages)
    services = await build_knowledge(
        kb_settings,
        default_encoder(),
        project_dir=project,
        state_dir=state_dir,
        engine=engine,
        detector=detector,
    )
    return kb_settings, engine, services


@kb_app.command()
def ingest(
    directory: Annotated[
        Path | None, typer.Argument(help="articles folder (default: data/knowledge)")
    ] = None,
    project: ProjectOption = Path("."),
    db: Annotated[bool, typer.Option("--db/--no-db", help="also record versions in the database")] = True,
) -> None:
    """Index the Markdown articles of DIRECTORY (only changed articles are re-embedded)."""
    from knowledge.chunking import chunk_article
    from knowledge.markdown import load_articles

    async def run() -> dict[str, object]:
        kb_settings, engine, services = await _services(project, with_db=db)
        try:
            articles = load_articles(directory or project / kb_settings.articles_dir)
            total = sum(len(chunk_article(a)) for a in articles)
            with _progress() as bar:
                task = bar.add_task("embedding chunks", total=total)

                def advance(n: int) -> None:
                    bar.advance(task, n)

                if services.editor is not None:
                    changed = await services.editor.import_articles(articles, "ingest", advance)
                else:
                    results = await services.store.upsert_many(articles, advance)
                    changed = [r.article_id for r in results if not r.unchanged]
                bar.update(task, completed=total)
            return {"articles": len(articles), "changed": changed, "chunks": services.store.chunk_count}
        finally:
            await services.aclose()
            if engine is not None:
                await engine.dispose()

    print(json.dumps(asyncio.run(run()), ensure_ascii=False))


EMPTY_INDEX = "the knowledge index is empty: run `concierge kb ingest` first"


def _require_index(services) -> None:  # type: ignore[no-untyped-def]
    """Stop with exit code 2 and a hint when nothing has been ingested yet; an empty
    index would otherwise answer every question with "no answer", which misleads."""
    if services.store.chunk_count == 0:
        err.print(f"[red]error:[/red] {EMPTY_INDEX}")
        raise typer.Exit(code=2)


@kb_app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the client's question")],
    project: ProjectOption = Path("."),
    language: Annotated[str | None, typer.Option(help="en, pl, uk (default: detected)")] = None,
    on: Annotated[str | None, typer.Option("--date", help="ask as of YYYY-MM-DD")] = None,
) -> None:
    """Answer QUESTION from the index and print JSON: answer, sources with scores, answered."""

    async def run() -> dict[str, object]:
        _, _, services = await _services(project, with_db=False)
        try:
            _require_index(services)
            day = dt.date.fromisoformat(on) if on else None
            answer = await services.kb.ask(question, language, on=day, record_gaps=False)
        finally:
            await services.aclose()
        return {
            "answered": answer.answered,
            "answer": answer.text,
            "language": answer.language,
            "mode": answer.mode,
            "confidence": answer.confidence,
            "sources": [s.model_dump() for s in answer.sources],
            "passages": [
                p.model_dump(include={"article_id", "chunk_id", "score", "dense", "lexical"})
                for p in answer.passages
            ],
            "fallback_reason": answer.fallback_reason,
        }

    print(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


@kb_app.command("test")
def test_golden(
    project: ProjectOption = Path("."),
    golden: Annotated[
        Path | None, typer.Option(help="run this file's questions instead of the database's")
    ] = None,
) -> None:
    """Run the golden questions against the index (the right article, and every fact its
    answer must state, reported one by one); exit code 1 when any fails. The questions are
    the database's (the project's golden file is imported into it first, new questions only),
    the same ones the publish gate runs."""
    from knowledge.golden import load_golden, run_golden

    async def run() -> dict[str, object]:
        _, engine, services = await _services(project, with_db=golden is None)
        try:
            _require_index(services)
            if golden is not None:
                questions = load_golden(golden)
            else:
                assert services.editor is not None  # a database was given
                questions = await services.editor.golden.all()
            with _progress() as bar:
                task = bar.add_task("golden questions", total=len(questions))
                report = await run_golden(services.kb, questions, lambda: bar.advance(task))
        finally:
            await services.aclose()
            if engine is not None:
                await engine.dispose()
        facts = [(r.question, f) for r in report.results for f in r.facts]
        return {
            "passed": sum(r.passed for r in report.results),
            "total": len(report.results),
            "facts": {
                "stated": sum(f.ok for _, f in facts),
                "total": len(facts),
                "lost": [{"question": q, **f.model_dump()} for q, f in facts if not f.ok],
            },
            "failures": [f.model_dump() for f in report.failures],
        }

    result = asyncio.run(run())
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if result["failures"]:
        raise typer.Exit(code=1)


@kb_app.command()
def gaps(
    project: ProjectOption = Path("."),
    days: Annotated[int, typer.Option(help="look back this many days")] = 30,
    limit: Annotated[int, typer.Option(help="how many groups")] = 20,
) -> None:
    """Questions the knowledge base could not answer well, grouped and ranked by frequency."""

    async def run() -> list[dict[str, object]]:
        _, engine, services = await _services(project, with_db=True)
        try:
            assert services.gaps is not None
            return [g.model_dump(mode="json") for g in await services.gaps.report(days=days, limit=limit)]
        finally:
            await services.aclose()
            if engine is not None:
                await engine.dispose()

    print(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))
