"""Round trips to PostgreSQL per turn of the demo bot, counted (not sampled), by kind.

Runs ``--turns`` turns of ``Engine.handle`` (after 20 warm-up turns) in a scratch schema of
``--postgres-url`` and counts what psycopg sends while they run: each statement a cursor
executes (the pool's pre-ping included), each command the connection sends on its own
(``BEGIN``, ``COMMIT``, ``ROLLBACK``, ``DEALLOCATE``) and each statement it prepares first
(a round trip of its own outside pipeline mode); an ``executemany`` counts as one (psycopg
pipelines it). psycopg is patched in this process only.

    .venv/bin/python -m bench.round_trips [--turns 40] [--model-dir DIR] [--project .]

Prints the counts per turn, most frequent first, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

COUNTS: collections.Counter[str] = collections.Counter()


def count_round_trips() -> None:
    """Patch psycopg so every round trip it makes adds one to :data:`COUNTS`."""
    import psycopg
    from psycopg import _connection_base, _preparing

    exec_command = _connection_base.BaseConnection._exec_command
    execute = psycopg.AsyncCursor.execute
    executemany = psycopg.AsyncCursor.executemany
    get = _preparing.PrepareManager.get

    def counted_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        raw = command if isinstance(command, bytes) else str(command).encode()
        COUNTS["command " + raw.decode(errors="replace").split()[0].upper()] += 1
        return (yield from exec_command(self, command, *args, **kwargs))

    async def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sql = query.decode() if isinstance(query, bytes) else str(query)
        COUNTS["statement " + " ".join(sql.split())[:70]] += 1
        return await execute(self, query, *args, **kwargs)

    async def counted_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        # psycopg pipelines an executemany: its rows travel in one round trip
        sql = query.decode() if isinstance(query, bytes) else str(query)
        COUNTS["statement (many) " + " ".join(sql.split())[:63]] += 1
        return await executemany(self, query, *args, **kwargs)

    def counted_get(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = get(self, *args, **kwargs)
        if found[0] == _preparing.Prepare.SHOULD:
            COUNTS["prepare (a round trip before the statement)"] += 1
        return found

    _connection_base.BaseConnection._exec_command = counted_command  # type: ignore[method-assign]
    psycopg.AsyncCursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.AsyncCursor.executemany = counted_executemany  # type: ignore[method-assign]
    _preparing.PrepareManager.get = counted_get  # type: ignore[method-assign]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bot.loaders import load_project
    from bot.models import InboundMessage
    from bot.settings import Settings
    from bot.store import async_url, scratch_schema
    from concierge.compose import build_engine

    texts = [e.text for e in load_project(args.project).nlu.examples]
    with tempfile.TemporaryDirectory() as tmp:
        async with scratch_schema(args.postgres_url, "bench_trips") as schema:
            url = async_url(args.postgres_url, schema=schema).render_as_string(hide_password=False)
            settings = Settings(
                project_dir=args.project,
                model_dir=args.model_dir or Path(tmp) / "model",
                state_dir=Path(tmp),
                database_url=url,
            )
            engine = await build_engine(settings)
            try:
                for i in range(20):  # warm-up: caches, lazy imports, the pool filled
                    message = InboundMessage(
                        channel="bench", sender_id=f"warm{i % 3}", text=texts[i % len(texts)]
                    )
                    await engine.handle(message)
                COUNTS.clear()
                started = time.perf_counter()
                for i in range(args.turns):
                    text = texts[(i * 7) % len(texts)]
                    await engine.handle(InboundMessage(channel="bench", sender_id=f"c{i % 10}", text=text))
                elapsed = time.perf_counter() - started
                counts = dict(COUNTS)
            finally:
                await engine.close()
    return {
        "turns": args.turns,
        "round_trips_per_turn": round(sum(counts.values()) / args.turns, 2),
        "by_kind_per_turn": {
            k: round(v / args.turns, 2) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
        },
        "turn_ms_mean": round(elapsed / args.turns * 1000, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse a trained model (else trained)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    count_round_trips()
    figures = asyncio.run(run(args))
    for kind, per_turn in figures["by_kind_per_turn"].items():
        print(f"{per_turn:7.2f}  {kind}")
    print(f"{figures['round_trips_per_turn']:7.2f}  round trips per turn")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
