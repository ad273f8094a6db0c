"""The knowledge gaps report on its read model: prints one JSON line.

Fills a database (a throwaway PostgreSQL schema by default, or ``--sqlite PATH``) with
``--questions`` unanswered questions as the bot writes them: each a ``knowledge_gap`` event
appended with its client line through the event store, the gaps projector registered (so
each lands in ``kb_gaps`` and its cluster in the append's transaction). The questions are
variants of ``--topics`` topics in English, Polish and Ukrainian, asked with a Zipf-like
frequency (a few topics often, most rarely) over the last 30 days, by about a third as many
conversations.

Then it times, ``--repeats`` times each (median and max, milliseconds):

- ``append_ms``: one append of a client line and its gap event (seeding, mean per append);
- ``report_30d``: ``GapLog.report`` over the last 30 days (the console's gaps list);
- ``report_7d``: the same over a week ending 7 days ago (an analytics range: both ends);
- ``api_30d``: ``GET /api/knowledge/gaps`` through the knowledge router in process (the
  report plus validation and JSON), with a signed-in editor.

Usage: ``python -m bench.gaps [--questions 5000] [--sqlite PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.events import UserUttered
from bot.store import EventStore, scratch_schema
from knowledge.gaps import GapLog, gap_event, register_gap_projection

DAY = 86_400.0
SUBJECTS = [
    "tattoo removal",
    "teeth whitening",
    "swimming pool",
    "wifi password",
    "dog",
    "parking for bikes",
    "laser hair removal",
    "sauna towels",
    "gift wrapping",
    "student discount",
    "microblading",
    "botox",
    "kids haircut",
    "wedding makeup",
    "spray tan",
    "yoga for pregnant women",
    "boxing class",
    "protein shakes",
    "lockers",
    "showers",
    "hair extensions",
    "beard trim",
    "ear piercing",
    "cryotherapy",
    "infrared sauna",
    "massage for two",
    "nail art",
    "eyebrow lamination",
    "personal trainer in English",
    "card payment abroad",
    "invoice for company",
    "late opening",
    "sunday hours",
    "wheelchair access",
    "baby changing",
    "air conditioning",
    "music volume",
    "vegan products",
    "allergy test",
    "hair dye brands",
    "gel removal",
    "foot peeling",
    "lash lift",
    "body scrub",
    "anti cellulite",
    "physiotherapy",
    "pilates reformer level",
    "group discount",
    "loyalty points",
    "refund by card",
]
TEMPLATES = {
    "en": ["do you do {s}?", "{s}?", "is there {s}", "how much is {s}", "can I get {s}", "{s} price"],
    "pl": ["czy macie {s}?", "{s}?", "ile kosztuje {s}", "czy jest {s}"],
    "uk": ["чи є у вас {s}?", "{s}?", "скільки коштує {s}"],
}


def questions(n: int, topics: int, rng: random.Random) -> list[tuple[str, str, float]]:
    """``n`` (question, language, age in seconds): topic ``k`` asked with weight 1/(k+1)."""
    names = [
        SUBJECTS[k % len(SUBJECTS)] + (f" {k // len(SUBJECTS)}" if k >= len(SUBJECTS) else "")
        for k in range(topics)
    ]
    weights = [1 / (k + 1) for k in range(topics)]
    out = []
    for subject in rng.choices(names, weights, k=n):
        language = rng.choices(["en", "pl", "uk"], [6, 3, 1])[0]
        text = rng.choice(TEMPLATES[language]).format(s=subject)
        out.append((text if rng.random() < 0.7 else text.capitalize(), language, rng.uniform(0, 30 * DAY)))
    return out


async def timed(fn: Callable[[], Awaitable[Any]], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"median": round(statistics.median(samples), 2), "max": round(max(samples), 2)}


async def seed(store: EventStore, n: int, topics: int) -> float:
    """Append the questions; returns the mean milliseconds per append."""
    rng = random.Random(13)
    now = time.time()
    asked = questions(n, topics, rng)
    conversations = [f"widget:g{i}" for i in range(max(1, n // 3))]
    start = time.perf_counter()
    for text, language, age in asked:
        at = now - age
        gap = gap_event(text, language, "no_answer", 0.2, "knowledge base: nothing retrieved")
        await store.append(
            rng.choice(conversations),
            [UserUttered(text=text, timestamp=at), gap.model_copy(update={"timestamp": at})],
        )
    return (time.perf_counter() - start) * 1000 / n


async def api_client(store: EventStore) -> Any:
    """The knowledge router in process, its gaps read from ``store`` (an editor signed in)."""
    from types import SimpleNamespace

    import httpx
    from fastapi import FastAPI

    from console.routes.knowledge import router

    # the gaps route reads only the editor service's knowledge base's report
    editor = SimpleNamespace(kb=SimpleNamespace(gaps=GapLog(store.engine)))
    user = SimpleNamespace(name="bench", role="editor")
    app = FastAPI()
    app.include_router(router(lambda: editor, lambda: user))  # type: ignore[arg-type,return-value]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")


async def run(args: argparse.Namespace, store: EventStore) -> dict[str, Any]:
    await store.migrate()
    await register_gap_projection(store)
    append_ms = await seed(store, args.questions, args.topics)
    log = GapLog(store.engine)
    now = dt.datetime.now(dt.UTC)
    week = {"since": now - dt.timedelta(days=14), "until": now - dt.timedelta(days=7)}
    groups = await log.report(days=30)
    async with await api_client(store) as http:
        api = await http.get("/api/knowledge/gaps", params={"days": 30})
        assert api.status_code == 200 and len(api.json()) == len(groups), api.text[:200]
        results = {
            "report_30d": await timed(lambda: log.report(days=30), args.repeats),
            "report_7d": await timed(lambda: log.report(**week), args.repeats),
            "api_30d": await timed(
                lambda: http.get("/api/knowledge/gaps", params={"days": 30}), args.repeats
            ),
        }
    return {
        "backend": store.dialect,
        "questions": args.questions,
        "clusters_shown": len(groups),
        "top": [(g.question, g.count) for g in groups[:3]],
        "append_ms": round(append_ms, 2),
        **results,
        "load": os.getloadavg()[0],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--topics", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sqlite", help="a SQLite file (default: a throwaway PostgreSQL schema)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CONCIERGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    if args.sqlite:
        store = EventStore.from_url(f"sqlite:///{args.sqlite}")
        try:
            print(json.dumps(await run(args, store), ensure_ascii=False))
        finally:
            await store.close()
        return
    async with scratch_schema(args.postgres, "bench_gaps") as schema:
        store = EventStore.from_url(args.postgres, schema=schema)
        try:
            print(json.dumps(await run(args, store), ensure_ascii=False))
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
