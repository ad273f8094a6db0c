"""Two real server processes on one PostgreSQL schema and one Redis database: what an agent
or a client does through one process is what the other process shows.

- presence: an agent's status set through A is what B's roster (the router's input) reads;
- live delivery: an agent's reply sent through B reaches a widget socket connected to A;
- knowledge: an article published through A answers on B;
- claims: 100 queued conversations, each claimed through A and through B at the same
  moment, have exactly one winner (200) and one loser (409 naming the winner) each, and
  one ``assigned`` move each in the log.

Latencies are printed (``-s``) for the record, never asserted: the guards below only bound
how long a test waits before it fails.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import websockets
from redis.asyncio import Redis

from bot.events import HandoffStatusChanged
from bot.store import EventStore, async_url, scratch_schema
from console.security.demo import DEMO_PASSWORD
from handoff.projections import register_handoff_projections
from handoff.service import HandoffService
from tests.console.cluster import Server, cluster
from tests.console.conftest import sign_in

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(3600),  # training, then two servers loading their models, on a shared machine
]

DOUBLE_CLAIMS = 100
REDIS_DB = 14  # a database of its own on the machine's Redis; only our keys are removed after
GUARD = 20.0  # seconds a test waits for something before it fails


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_database(postgres_url: str) -> AsyncIterator[str]:
    """The URL of an empty PostgreSQL schema both processes (and the tests' own store) use."""
    async with scratch_schema(postgres_url, "test_two_processes") as schema:
        yield async_url(postgres_url, schema=schema).render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory, shared_database: str, redis_url: str
) -> AsyncIterator[tuple[Server, Server]]:
    """Processes A and B, started together on an empty schema (start-up takes turns:
    ``bot.startup``, so only one migrates and imports)."""
    root = tmp_path_factory.mktemp("two_processes")
    shared_redis = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    async with cluster(root, model_dir, shared_database, shared_redis) as running:
        a, b = await asyncio.gather(running.start("a"), running.start("b"))
        try:
            yield a, b
        finally:
            await _forget_keys(shared_redis)


async def _forget_keys(url: str) -> None:
    client = Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match="concierge:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def signed_in(server: Server, username: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    client = server.client()
    csrf = await sign_in(client, username, DEMO_PASSWORD)
    return client, {"X-CSRF-Token": csrf}


async def test_both_processes_are_healthy_on_postgres_and_redis(two: tuple[Server, Server]) -> None:
    for server in two:
        async with server.client() as client:
            report = (await client.get("/health")).json()
        assert report["status"] == "ok", report
        assert report["components"]["database"]["detail"] == "postgresql"
        assert report["components"]["locks"]["detail"] == "redis ticket lock"
        assert report["components"]["live"]["detail"] == "redis pub/sub"


async def test_an_agents_status_set_on_one_process_is_what_the_other_routes_on(
    two: tuple[Server, Server],
) -> None:
    a, b = two
    anna, csrf = await signed_in(a, "anna.kowalska")
    manager, _ = await signed_in(b, "manager")
    try:
        for status in ("online", "away", "offline", "online"):
            changed = await anna.post("/api/workspace/presence", json={"status": status}, headers=csrf)
            assert changed.status_code == 200 and changed.json()["status"] == status
            started = time.perf_counter()
            agents = (await manager.get("/api/workspace/agents")).json()
            seen = {agent["id"]: agent["status"] for agent in agents}
            print(f"presence {status}: B read it {1000 * (time.perf_counter() - started):.1f} ms later")
            assert seen["anna.kowalska"] == status  # at once: B reads the same Redis key
            assert seen["olena.shevchenko"] == "offline"
    finally:
        await anna.aclose()
        await manager.aclose()


async def _frames_until(ws: websockets.ClientConnection, done: object) -> list[dict[str, object]]:
    frames = []
    async with asyncio.timeout(GUARD):
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if frame == done:
                return frames


async def test_an_agent_reply_sent_through_b_reaches_a_widget_socket_on_a(two: tuple[Server, Server]) -> None:
    a, b = two
    session = uuid.uuid4().hex[:16]
    cid = f"widget:{session}"
    anna, csrf = await signed_in(b, "anna.kowalska")
    socket_url = a.url.replace("http", "ws", 1) + "/webhooks/widget/ws"
    try:
        async with websockets.connect(socket_url) as ws:
            await ws.send(json.dumps({"type": "hello", "session_id": session, "last_seq": None}))
            assert json.loads(await asyncio.wait_for(ws.recv(), GUARD))["type"] == "history"
            await ws.send(
                json.dumps(
                    {"type": "message", "client_id": uuid.uuid4().hex, "text": "I want to talk to a human"}
                )
            )
            await _frames_until(ws, {"type": "typing", "on": False})
            claimed = await anna.post(f"/api/workspace/conversations/{cid}/claim", json={}, headers=csrf)
            assert claimed.status_code == 200, claimed.text
            await asyncio.sleep(0.2)  # frames about the claim (if any) arrive first
            text = f"Anna here, writing through process B ({uuid.uuid4().hex[:6]})"
            sent_at = time.perf_counter()
            replied = await anna.post(
                f"/api/workspace/conversations/{cid}/reply", json={"text": text}, headers=csrf
            )
            assert replied.status_code == 200, replied.text
            async with asyncio.timeout(GUARD):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "message" and frame["entry"]["text"] == text:
                        break
            print(f"agent reply on B -> widget on A: {1000 * (time.perf_counter() - sent_at):.1f} ms")
            assert frame["entry"]["sender"] == "agent"
            assert frame["entry"]["seq"] == replied.json()["delivery"]["seq"]
    finally:
        await anna.aclose()


NEW_ARTICLE = {
    "id": "bicycle-parking",
    "title": "Bicycle parking",
    "category": "studio",
    "language": "en",
    "tags": ["bicycle", "parking"],
    "answer": "You can leave your bicycle in the covered racks by the entrance of every studio.",
    "body": "Every Mariia Hub studio has covered bicycle racks by the entrance, free for clients.",
}


async def test_an_article_published_on_a_answers_on_b(two: tuple[Server, Server]) -> None:
    a, b = two
    editor_a, csrf_a = await signed_in(a, "editor")
    editor_b, csrf_b = await signed_in(b, "editor")
    question = {"question": "where can I leave my bicycle?"}
    try:
        before = (await editor_b.post("/api/knowledge/try", json=question, headers=csrf_b)).json()
        assert "bicycle-parking" not in [p["article_id"] for p in before["passages"]]
        created = await editor_a.post("/api/knowledge/articles", json=NEW_ARTICLE, headers=csrf_a)
        assert created.status_code == 201, created.text
        published = await editor_a.post("/api/knowledge/articles/bicycle-parking/publish", headers=csrf_a)
        assert published.status_code == 200, published.text
        started = time.perf_counter()
        async with asyncio.timeout(GUARD):
            while True:
                tried = (await editor_b.post("/api/knowledge/try", json=question, headers=csrf_b)).json()
                if tried["answer"]["answered"] and tried["passages"][0]["article_id"] == "bicycle-parking":
                    break
                await asyncio.sleep(0.1)
        print(f"published on A -> answered on B: {1000 * (time.perf_counter() - started):.0f} ms")
        assert "covered racks" in tried["answer"]["text"]
    finally:
        await editor_a.aclose()
        await editor_b.aclose()


async def test_a_hundred_double_claims_through_two_processes_have_one_winner_each(
    two: tuple[Server, Server], shared_database: str
) -> None:
    """Anna claims through A and Olena through B, both at the same moment, for each of 100
    queued conversations: one 200 and one 409 naming the winner each, one ``assigned`` move
    each in the shared log (the database's seq check decides, not a process's lock)."""
    a, b = two
    run = uuid.uuid4().hex[:8]
    ids = [f"widget:claim{run}{i:03d}" for i in range(DOUBLE_CLAIMS)]
    store = EventStore.from_url(shared_database)  # the schema the servers migrated
    try:
        await register_handoff_projections(store)  # the queue and tickets the console reads
        seeding = HandoffService(store)
        for cid in ids:  # straight into the queue: a turn each would only add minutes
            await seeding.request(cid, "client_request")
        anna, anna_csrf = await signed_in(a, "anna.kowalska")
        olena, olena_csrf = await signed_in(b, "olena.shevchenko")
        try:

            async def double_claim(cid: str) -> tuple[httpx.Response, httpx.Response]:
                path = f"/api/workspace/conversations/{cid}/claim"
                return await asyncio.gather(
                    anna.post(path, json={}, headers=anna_csrf),
                    olena.post(path, json={}, headers=olena_csrf),
                )

            started = time.perf_counter()
            answers = await asyncio.gather(*(double_claim(cid) for cid in ids))
            took = time.perf_counter() - started
        finally:
            await anna.aclose()
            await olena.aclose()
        wins = {"anna.kowalska": 0, "olena.shevchenko": 0}
        for cid, (through_a, through_b) in zip(ids, answers, strict=True):
            codes = sorted([through_a.status_code, through_b.status_code])
            assert codes == [200, 409], (cid, through_a.text, through_b.text)
            a_won = through_a.status_code == 200
            winner = "anna.kowalska" if a_won else "olena.shevchenko"
            loser = through_b if a_won else through_a
            wins[winner] += 1
            assert loser.json()["detail"]["holder"] == winner, loser.text
            moves = [
                e
                for e in await store.events(cid)
                if isinstance(e, HandoffStatusChanged) and e.to_status == "assigned"
            ]
            assert len(moves) == 1, (cid, moves)
            assert moves[0].actor == winner
        print(f"{DOUBLE_CLAIMS} double claims through A and B: {took:.2f} s, wins {wins}")
    finally:
        await store.close()
