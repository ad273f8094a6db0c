"""REST turns per second under a fixed offered load, beside a bare FastAPI echo; console queue p99.

Two measurements, one JSON line at the end:

1. **REST over HTTP.** For each worker count (``--workers 1,2``) the real app
   (``concierge.serve.create_app``: the REST channel and everything else a deployment serves)
   runs under uvicorn with that many worker processes, and so does a bare FastAPI app with
   the same route (``POST /webhooks/rest/webhook``, answering the message back), on the same
   port settings, in the same run. An open-loop generator (httpx, no keep-alive, so
   requests spread over the workers like separate clients do) offers each rate of
   ``--rates`` for ``--duration`` seconds; latency is measured from each request's
   *scheduled* start, so a server falling behind shows up as latency, not as a politely
   slower client. Senders rotate (``--senders`` at a time, a fresh one after five messages),
   texts are the demo's NLU examples. Reported per rate: achieved turns/s, p50/p90/p99 ms,
   errors, and the bot/echo throughput ratio.
2. **Console queue.** A PostgreSQL schema is filled with ``--queue-conversations``
   conversations of ``--queue-events`` events each (``--queue-open`` of them handed off,
   queued or assigned, half to known clients), through the event store with the read models
   registered, then ``QueueBuilder.build`` runs ``--queue-repeats`` times (p50/p99), beside
   the reads the queue made before the read models (the ledger's scan of every status event
   plus two whole logs per open conversation).

The generator runs in this process on the same machine as the servers: on a 2-core box
it competes with them, which the echo figure shows (it is the ceiling this set-up can
measure). Record ``uptime`` with every figure.

    .venv/bin/python -m bench.load [--workers 1,2] [--rates 50,100,200,300] [--duration 10]
        [--database-url URL] [--queue-conversations 10000 --queue-events 100] [--skip-rest]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request  # resolved by name in the echo route's annotations

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROUTE = "/webhooks/rest/webhook"
TOKEN = "bench-load-token"
REPO = Path(__file__).resolve().parent.parent


# ---- the two apps uvicorn serves (factories: each worker builds its own) ---------------------
def echo_app() -> Any:
    """A bare FastAPI app with the REST channel's route: the message straight back."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.post(ROUTE)
    async def webhook(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        return JSONResponse([{"recipient_id": body.get("sender"), "text": body.get("message")}])

    @app.get("/webhooks/rest/")
    async def status() -> dict[str, str]:
        return {"status": "ok", "pid": str(os.getpid())}

    return app


def bot_app() -> Any:
    """The real web app, configured from ``CONCIERGE_*`` variables the benchmark sets."""
    from bot.settings import Settings
    from concierge.serve import create_app

    return create_app(Settings())


# ---- servers -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def server(factory: str, workers: int, env: dict[str, str], ready_seconds: float) -> AsyncIterator[str]:
    """``uvicorn --factory bench.load:<factory> --workers N`` on a free port; yields its base URL."""
    import httpx

    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", f"bench.load:{factory}",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env})  # noqa: ASYNC220 (started once)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_seconds
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{factory} server exited with {process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/webhooks/rest/")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{factory} server not ready in {ready_seconds}s")
                await asyncio.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- the open-loop generator ---------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def payloads(texts: list[str], senders: int, run: str) -> Iterator[dict[str, str]]:
    """Demo texts from ``senders`` concurrent senders; each sender is replaced after five messages."""
    rng = random.Random(7)
    uses = [0] * senders
    generation = [0] * senders
    i = 0
    while True:
        slot = i % senders
        if uses[slot] == 5:
            uses[slot], generation[slot] = 0, generation[slot] + 1
        uses[slot] += 1
        yield {"sender": f"{run}-{slot}-{generation[slot]}", "message": rng.choice(texts)}
        i += 1


async def offer(
    base: str, rate: float, duration: float, source: Iterator[dict[str, str]]
) -> dict[str, float]:
    """Send ``rate`` requests/s for ``duration`` s; latency from each request's scheduled start."""
    import httpx

    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    finished: list[float] = []
    limits = httpx.Limits(max_connections=2048, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = loop.time() + 0.2
        count = int(rate * duration)

        async def one(at: float, body: dict[str, str]) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, at - loop.time()))
            try:
                response = await client.post(base + ROUTE, json=body, headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            done = loop.time()
            finished.append(done)
            if ok:
                latencies.append((done - at) * 1000)
            else:
                errors += 1

        await asyncio.gather(*(one(start + i / rate, next(source)) for i in range(count)))
    elapsed = max(finished) - start if finished else duration
    return {
        "offered_per_s": rate,
        "achieved_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": errors,
    }


@contextlib.asynccontextmanager
async def bot_database(args: argparse.Namespace) -> AsyncIterator[str | None]:
    """The bot's database for one server start: with ``--database postgresql`` a fresh
    scratch schema of ``--postgres-url`` (dropped afterwards), so a run never inherits the
    previous one's unanswered backlog (the recovery sweep would answer it during the load);
    None otherwise (``--database-url`` or the SQLite file in the state directory)."""
    if args.database_url or args.database != "postgresql":
        yield None
        return
    from bot.store import async_url, scratch_schema

    async with scratch_schema(args.postgres_url, "bench_rest") as schema:
        yield async_url(args.postgres_url, schema=schema).render_as_string(hide_password=False)


async def rest_figures(
    args: argparse.Namespace, texts: list[str], model_dir: Path, state: Path
) -> dict[str, Any]:
    env = {
        "CONCIERGE_PROJECT_DIR": str(args.project),
        "CONCIERGE_MODEL_DIR": str(model_dir),
        "CONCIERGE_STATE_DIR": str(state),
        "CONCIERGE_REST_TOKEN": TOKEN,
        "CONCIERGE_CHAT_PER_IP_PER_MINUTE": "0",  # one client address offers the whole load
        "CONCIERGE_CHAT_PER_SENDER_PER_MINUTE": "0",
    }
    if args.database_url:
        env["CONCIERGE_DATABASE_URL"] = args.database_url
    if args.redis_url:  # conversation locks shared by the workers
        env["CONCIERGE_REDIS_URL"] = args.redis_url
    out: dict[str, Any] = {"database": "url" if args.database_url else args.database}
    for workers in args.workers:
        async with bot_database(args) as url:
            bot_env = {**env, "CONCIERGE_DATABASE_URL": url} if url else env
            for label, factory, ready, run_env in (
                ("echo", "echo_app", 60.0, env),
                ("rest", "bot_app", 600.0, bot_env),
            ):
                async with server(factory, workers, run_env, ready) as base:
                    source = payloads(texts, args.senders, f"load{uuid.uuid4().hex[:6]}")
                    await offer(base, 20, 3, source)  # warm-up: lazy imports, caches, every worker
                    rows = []
                    for rate in args.rates:
                        row = await offer(base, rate, args.duration, source)
                        row["load_1min"] = round(os.getloadavg()[0], 2)
                        rows.append(row)
                out[f"{label}_{workers}w"] = rows
                print(f"{label} {workers} worker(s): {rows}", file=sys.stderr)
        out[f"ratio_rest_to_echo_{workers}w"] = [
            round(r["achieved_per_s"] / max(e["achieved_per_s"], 0.1), 3)
            for r, e in zip(out[f"rest_{workers}w"], out[f"echo_{workers}w"], strict=True)
        ]
    return out


# ---- the console queue on PostgreSQL -------------------------------------------------------
def seed_events(
    rng: random.Random, n: int, at: float, handed: str | None, client_id: str | None
) -> list[Any]:
    from bot.events import (
        ActionExecuted,
        BotUttered,
        HandoffRequested,
        HandoffStatusChanged,
        IntentPrediction,
        ParseData,
        SentimentScore,
        SlotSet,
        UserUttered,
    )

    events: list[Any] = [SlotSet(name="client_id", value=client_id, timestamp=at)] if client_id else []
    while len(events) < n:
        at += rng.uniform(5, 60)
        text = rng.choice(["hello", "can I book a facial on friday", "what are your opening hours", "thanks"])
        parse = ParseData(
            text=text,
            intent=IntentPrediction(name="greet", confidence=0.9),
            language=rng.choice(["en", "pl", "uk"]),
            sentiment=SentimentScore.of(rng.uniform(-1, 1)),
        )
        events += [
            UserUttered(text=text, parse_data=parse, timestamp=at),
            ActionExecuted(name="utter_greet", timestamp=at),
            BotUttered(text="Hello! How can I help?", metadata={"sender": "bot"}, timestamp=at),
            ActionExecuted(name="action_listen", timestamp=at),
        ]
    events = events[:n]
    if handed is not None:
        events += [
            HandoffRequested(reason="client_request", timestamp=at + 1),
            HandoffStatusChanged(
                from_status="bot",
                to_status="queued",
                actor="bot",
                metadata={"routing": "bench"},
                timestamp=at + 1,
            ),
        ]
        if handed == "assigned":
            events.append(
                HandoffStatusChanged(
                    from_status="queued", to_status="assigned", actor="anna", metadata={"agent_id": "anna"},
                    timestamp=at + 2,
                )
            )  # fmt: skip
    return events


async def legacy_queue_reads(store: Any) -> int:
    """The reads the console queue made before the read models: the ledger's scan of every
    status event, then two whole logs per open conversation (its entry and its client)."""
    from sqlalchemy import func, select

    from bot.store.tables import events

    last = (
        select(events.c.conversation_id, func.max(events.c.seq).label("seq"))
        .where(events.c.type == "handoff_status")
        .group_by(events.c.conversation_id)
        .subquery()
    )
    stmt = select(events.c.conversation_id, events.c.data).join(
        last, (events.c.conversation_id == last.c.conversation_id) & (events.c.seq == last.c.seq)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    open_ids = [r.conversation_id for r in rows if r.data.get("to_status") in ("queued", "assigned")]
    for cid in open_ids:
        await store.events(cid)
        await store.events(cid)
    return len(open_ids)


#: the read models the console queue and the agents list read, rebuilt after a bulk seed
QUEUE_PROJECTIONS = ("handoff_tickets", "conversation_facts", "agent_replies")
#: conversations generated and copied per transaction by the bulk seed
SEED_CHUNK = 500


def bulk_seed(args: argparse.Namespace, schema: str, clients: list[str]) -> tuple[int, list[str]]:
    """Write ``--queue-conversations`` conversations of ``--queue-events`` events straight into
    a migrated PostgreSQL schema with ``COPY`` (the events' wire format, as ``append`` stores
    it); the read models are then rebuilt from that log by the store's own projectors.
    Conversations are a third each widget, REST and Telegram (a numeric sender id: a
    Telegram ticket without a ``client_id`` is looked up by identity when the queue is
    built). Returns how many were handed off and their ids."""
    import psycopg

    rng = random.Random(11)
    base = time.time() - 86_400
    now = datetime.now(UTC)
    opened: list[str] = []
    conversation_copy = (
        "COPY conversations (id, channel, sender_id, created_at, updated_at, last_seq) FROM STDIN"
    )
    event_copy = "COPY events (conversation_id, seq, type, timestamp, data, created_at) FROM STDIN"
    with psycopg.connect(args.postgres_url, options=f"-csearch_path={schema}") as conn:
        for start in range(0, args.queue_conversations, SEED_CHUNK):
            heads: list[tuple[Any, ...]] = []
            rows: list[tuple[Any, ...]] = []
            for i in range(start, min(start + SEED_CHUNK, args.queue_conversations)):
                handed = None
                if rng.random() < args.queue_open:
                    handed = "queued" if rng.random() < 0.6 else "assigned"
                client = rng.choice(clients) if clients and rng.random() < 0.5 else None
                channel = ("widget", "rest", "telegram")[i % 3]
                sender = str(700_000_000 + i) if channel == "telegram" else f"bench{i:06d}"
                cid = f"{channel}:{sender}"
                if handed:
                    opened.append(cid)
                seeded = seed_events(rng, args.queue_events, base + i, handed, client)
                rows += [
                    (cid, seq, e.event, e.timestamp, json.dumps(e.to_dict()), now)
                    for seq, e in enumerate(seeded, 1)
                ]
                last_at = datetime.fromtimestamp(max(e.timestamp for e in seeded), UTC)
                heads.append((cid, channel, sender, now, last_at, len(seeded)))
            with conn.cursor() as cur:  # a chunk per transaction: its conversations, then their events
                with cur.copy(conversation_copy) as copy:
                    for head in heads:
                        copy.write_row(head)
                with cur.copy(event_copy) as copy:
                    for row in rows:
                        copy.write_row(row)
            conn.commit()
    return len(opened), opened


async def analyze(args: argparse.Namespace, schema: str) -> None:
    """``VACUUM ANALYZE`` the seeded schema, as autovacuum would have by the time a real
    database held this much (a bulk load leaves the planner without statistics)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(
        args.postgres_url, options=f"-csearch_path={schema}", autocommit=True
    ) as conn:
        for table in ("conversations", "events", *QUEUE_PROJECTIONS):
            await conn.execute(f"VACUUM ANALYZE {table}")


async def timed(call: Any, repeats: int) -> list[float]:
    """``await call()`` ``repeats`` times; each one's wall time in ms."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def queue_figures(args: argparse.Namespace, model_dir: Path, state: Path) -> dict[str, Any]:
    from bot.settings import Settings
    from bot.store import async_url, scratch_schema
    from concierge.compose import build_services
    from console.services.workspace.queue import QueueBuilder

    rng = random.Random(11)
    async with scratch_schema(args.postgres_url, "bench_load") as schema:
        url = async_url(args.postgres_url, schema=schema).render_as_string(hide_password=False)
        settings = Settings(
            project_dir=args.project, model_dir=model_dir, state_dir=state / "pg", database_url=url
        )
        services = await build_services(settings)
        engine = services.engine
        try:
            runtime = services.handoff
            assert runtime is not None, "the demo project has handoff"
            clients = await runtime.clients.list_ids()
            started = time.perf_counter()
            if args.queue_seed == "bulk":
                opened, _ = await asyncio.to_thread(bulk_seed, args, schema, clients)
                copied_s = time.perf_counter() - started
                await engine.store.rebuild_projections(QUEUE_PROJECTIONS)
                await analyze(args, schema)
            else:
                base = time.time() - 86_400
                opened = 0
                for i in range(args.queue_conversations):
                    handed = None
                    if rng.random() < args.queue_open:
                        handed = "queued" if rng.random() < 0.6 else "assigned"
                        opened += 1
                    client = rng.choice(clients) if clients and rng.random() < 0.5 else None
                    cid = f"widget:bench{i:06d}"
                    await engine.store.append(
                        cid, seed_events(rng, args.queue_events, base + i, handed, client)
                    )
                copied_s = time.perf_counter() - started
            seeded_s = time.perf_counter() - started
            figures: dict[str, Any] = {"queue_load_after_seed": round(os.getloadavg()[0], 2)}
            builder = QueueBuilder(runtime)
            view = await builder.build()
            await runtime.roster.states()
            # the live queue and the API reuse one builder (profiles fresh for a few seconds) ...
            warm = await timed(builder.build, args.queue_repeats)
            # ... a build after they expired reads every distinct client again
            cold = await timed(lambda: QueueBuilder(runtime).build(), max(5, args.queue_repeats // 5))
            agents = await timed(runtime.roster.states, args.queue_repeats)
            figures["queue_load_after_builds"] = round(os.getloadavg()[0], 2)
            old_ms = await timed(lambda: legacy_queue_reads(engine.store), args.queue_legacy_repeats)
        finally:
            await engine.close()
    n = args.queue_conversations * args.queue_events
    return {
        "queue_seed": args.queue_seed,
        "queue_conversations": args.queue_conversations,
        "queue_events": n,
        "queue_open": opened,
        "queue_entries": len(view.entries),
        "queue_seed_s": round(seeded_s, 1),
        "queue_seed_copy_s": round(copied_s, 1),
        "queue_build_ms_p50": round(percentile(warm, 50), 1),
        "queue_build_ms_p99": round(percentile(warm, 99), 1),
        "queue_build_cold_ms_p50": round(percentile(cold, 50), 1),
        "queue_build_cold_ms_max": round(max(cold), 1),
        "agents_list_ms_p50": round(percentile(agents, 50), 1),
        "agents_list_ms_p99": round(percentile(agents, 99), 1),
        "queue_legacy_reads_ms_p50": round(statistics.median(old_ms), 1) if old_ms else None,
        "queue_legacy_reads_ms_max": round(max(old_ms), 1) if old_ms else None,
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--model-dir", type=Path, default=None, help="trained model (trained once if absent)")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50, 100, 200, 300]
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--state-dir", type=Path, default=None, help="reuse (knowledge index, SQLite)")
    parser.add_argument("--database-url", default=None, help="the bot's database (default: SQLite file)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="REST: the SQLite file in the state directory, or a fresh schema of --postgres-url per server",
    )
    parser.add_argument("--redis-url", default=None, help="share conversation locks between workers")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--queue-conversations", type=int, default=2000)
    parser.add_argument("--queue-events", type=int, default=50)
    parser.add_argument("--queue-open", type=float, default=0.05)
    parser.add_argument("--queue-repeats", type=int, default=50)
    parser.add_argument(
        "--queue-legacy-repeats", type=int, default=3, help="0: skip the pre-read-model reads"
    )
    parser.add_argument(
        "--queue-seed",
        choices=("bulk", "append"),
        default="bulk",
        help="bulk: COPY the log, then rebuild the read models from it; append: through the event store",
    )
    parser.add_argument("--skip-rest", action="store_true")
    parser.add_argument("--skip-queue", action="store_true")
    args = parser.parse_args()
    args.project = args.project.resolve()

    from bot.agent import Agent
    from bot.loaders import load_project

    texts = [e.text for e in load_project(args.project).nlu.examples]
    figures: dict[str, Any] = {"cpu_count": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir or Path(tmp) / "model"
        Agent.load_or_train(args.project, model_dir)  # once, before any worker starts
        if not args.skip_rest:
            state = args.state_dir or Path(tmp) / "state"
            figures.update(asyncio.run(rest_figures(args, texts, model_dir, state)))
        if not args.skip_queue:
            # the knowledge index in the state directory is reused when one is given
            figures.update(asyncio.run(queue_figures(args, model_dir, args.state_dir or Path(tmp))))
    figures["load_after"] = os.getloadavg()[0]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
