"""The knowledge editor API over HTTP: roles, versions, publishing refused by golden questions,
"try a question", golden report and gaps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from console.routes.knowledge import router
from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.editor import EditorService
from knowledge.gaps import GapLog
from knowledge.golden import load_golden
from knowledge.golden_store import GoldenStore
from knowledge.markdown import load_articles
from knowledge.repository import ArticleRepository
from knowledge.service import KnowledgeBase

ARTICLES = ("lateness-policy", "gift-cards", "cancellation-policy", "deposits", "refer-a-friend")


class User(BaseModel):
    name: str
    role: str


async def current_user(x_user: str | None = Header(default=None)) -> User:
    """Stands in for the console's login: ``X-User: name:role``."""
    if not x_user:
        raise HTTPException(401, "log in")
    name, role = x_user.split(":")
    return User(name=name, role=role)


@pytest.fixture(scope="module")
def encoder() -> object:
    from knowledge.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="module")
def base_store(encoder: object, repo_dir: Path) -> Iterator[ChromaKnowledgeStore]:
    store = ChromaKnowledgeStore.in_memory(encoder)  # type: ignore[arg-type]
    store.upsert_many_sync([a for a in load_articles(repo_dir / "data" / "knowledge") if a.id in ARTICLES])
    yield store
    store.drop()


@pytest_asyncio.fixture
async def client(
    tmp_path: Path, base_store: ChromaKnowledgeStore, encoder: object, repo_dir: Path
) -> AsyncIterator[httpx.AsyncClient]:
    from bot.migrations import upgrade
    from bot.store.database import create_engine

    engine: AsyncEngine = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
    store = base_store.snapshot_sync()
    golden = [
        q
        for q in load_golden(repo_dir / "data" / "knowledge_tests.yml")
        if q.language == "en" and (not q.expect or set(q.expect) & set(ARTICLES))
    ]
    kb = KnowledgeBase(store, gaps=GapLog(engine))
    golden_set = GoldenStore(engine)  # the database's table, seeded as at start-up
    await golden_set.seed(golden)
    editor = EditorService(ArticleRepository(engine), kb, golden_set, languages={"en", "pl", "uk"})
    await editor.import_articles(
        [a for a in load_articles(repo_dir / "data" / "knowledge") if a.id in ARTICLES], "ingest"
    )
    app = FastAPI()
    app.include_router(router(lambda: editor, current_user))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http
    store.drop()
    await engine.dispose()


EDITOR = {"X-User": "anna:editor"}
AGENT = {"X-User": "olek:agent"}
NEW = {
    "id": "sauna-etiquette",
    "title": "Sauna etiquette",
    "category": "fitness",
    "tags": ["sauna"],
    "answer": "Please sit on a towel in the sauna.",
    "body": "Sit on a towel; sessions under 15 minutes.",
}


async def test_roles_are_enforced(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/knowledge/articles")).status_code == 401
    assert (
        await client.get("/api/knowledge/articles", headers={"X-User": "guest:client"})
    ).status_code == 403
    assert (await client.get("/api/knowledge/articles", headers=AGENT)).status_code == 200
    assert (await client.post("/api/knowledge/articles", json=NEW, headers=AGENT)).status_code == 403
    tried = await client.post(
        "/api/knowledge/try", json={"question": "can I cancel for free?"}, headers=AGENT
    )
    assert tried.status_code == 200


async def test_create_edit_publish_and_history(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/knowledge/articles", json=NEW, headers=EDITOR)
    assert created.status_code == 201
    body = created.json()
    assert body["record"]["status"] == "draft" and body["published"] is None
    assert (await client.post("/api/knowledge/articles", json=NEW, headers=EDITOR)).status_code == 409
    edit = {
        **{k: v for k, v in NEW.items() if k != "id"},
        "answer": "Sit on a towel, and shower first.",
        "note": "shower first",
    }
    edited = await client.put("/api/knowledge/articles/sauna-etiquette", json=edit, headers=EDITOR)
    assert edited.json()["record"]["latest_version"] == 2
    published = await client.post("/api/knowledge/articles/sauna-etiquette/publish", headers=EDITOR)
    assert published.status_code == 200
    assert published.json()["published"]["answer"] == "Sit on a towel, and shower first."
    versions = (await client.get("/api/knowledge/articles/sauna-etiquette/versions", headers=AGENT)).json()
    assert [(v["version"], v["author"], v["note"]) for v in versions] == [
        (1, "anna", "created"),
        (2, "anna", "shower first"),
    ]
    tried = (
        await client.post(
            "/api/knowledge/try", json={"question": "what are the sauna rules?"}, headers=EDITOR
        )
    ).json()
    assert tried["answer"]["answered"] and tried["passages"][0]["article_id"] == "sauna-etiquette"
    assert {"score", "dense", "lexical"} <= set(tried["passages"][0])
    assert [v["published_at"] is not None for v in versions] == [False, True]
    draft = await client.post(
        "/api/knowledge/articles/sauna-etiquette/rollback", json={"version": 1}, headers=EDITOR
    )
    assert draft.status_code == 409 and "never published" in draft.json()["message"]
    third = {**edit, "answer": "Towel, shower, and no phones.", "note": "no phones"}
    assert (
        await client.put("/api/knowledge/articles/sauna-etiquette", json=third, headers=EDITOR)
    ).status_code == 200
    assert (
        await client.post("/api/knowledge/articles/sauna-etiquette/publish", headers=EDITOR)
    ).status_code == 200
    stale = await client.post(
        "/api/knowledge/articles/sauna-etiquette/rollback",
        json={"version": 2, "base_version": 2},
        headers=EDITOR,
    )
    assert stale.status_code == 409 and "is at version 3, not 2" in stale.json()["message"]
    rolled = await client.post(
        "/api/knowledge/articles/sauna-etiquette/rollback",
        json={"version": 2, "base_version": 3},
        headers=EDITOR,
    )
    assert rolled.status_code == 200
    body = rolled.json()
    assert body["published"]["answer"] == "Sit on a towel, and shower first."
    assert (body["record"]["latest_version"], body["record"]["published_version"]) == (4, 4)
    stale_edit = await client.put(
        "/api/knowledge/articles/sauna-etiquette", json={**third, "base_version": 3}, headers=EDITOR
    )
    assert stale_edit.status_code == 409


async def test_a_breaking_publish_is_refused_with_the_failing_questions(client: httpx.AsyncClient) -> None:
    current = (await client.get("/api/knowledge/articles/lateness-policy", headers=EDITOR)).json()["latest"]
    broken = {
        **{k: v for k, v in current.items() if k != "id"},
        "title": "Bicycle racks",
        "tags": ["bicycle"],
        "answer": "Bicycle racks are outside.",
        "body": "Bicycle racks are outside.",
    }
    assert (
        await client.put("/api/knowledge/articles/lateness-policy", json=broken, headers=EDITOR)
    ).status_code == 200
    refused = await client.post("/api/knowledge/articles/lateness-policy/publish", headers=EDITOR)
    assert refused.status_code == 409
    failing = refused.json()["detail"]["failing"]
    assert "what happens if I'm 15 minutes late?" in [f["question"] for f in failing]
    live = (await client.get("/api/knowledge/articles/lateness-policy", headers=EDITOR)).json()
    assert live["record"]["published_version"] == 1 and "grace" in live["published"]["answer"]
    golden = (await client.get("/api/knowledge/golden", headers=AGENT)).json()
    assert all(r["passed"] for r in golden["results"])


async def test_unknown_articles_and_bad_content(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/knowledge/articles/nope-nope", headers=AGENT)).status_code == 404
    assert (await client.post("/api/knowledge/articles/nope-nope/publish", headers=EDITOR)).status_code == 404
    bad = await client.post("/api/knowledge/articles", json={**NEW, "id": "bad id!"}, headers=EDITOR)
    assert bad.status_code == 422


async def test_gaps_show_what_clients_asked_without_an_answer(client: httpx.AsyncClient) -> None:
    # a client conversation records gaps; the try endpoint does not
    await client.post("/api/knowledge/try", json={"question": "do you sell wigs?"}, headers=EDITOR)
    assert (await client.get("/api/knowledge/gaps", headers=AGENT)).json() == []


async def test_a_golden_question_is_added_from_the_gaps_list_and_a_lost_fact_is_named(
    client: httpx.AsyncClient,
) -> None:
    question = {"question": "is the deposit refunded?", "expect": ["deposits"], "facts": ["refunded"]}
    assert (await client.post("/api/knowledge/golden", json=question, headers=AGENT)).status_code == 403
    added = await client.post("/api/knowledge/golden", json=question, headers=EDITOR)
    assert added.status_code == 201, added.text
    assert added.json()["passed"] and added.json()["facts"] == [
        {"fact": "refunded", "status": "present", "note": None}
    ]
    again = await client.post("/api/knowledge/golden", json=question, headers=EDITOR)
    assert again.status_code == 409
    german = await client.post("/api/knowledge/golden", json={**question, "language": "de"}, headers=EDITOR)
    assert german.status_code == 422
    assert "'de' is not one the bot speaks (en, pl, uk)" in german.json()["detail"]
    too_many = {**question, "question": "deposit back?", "facts": [f"fact {i}" for i in range(11)]}
    refused = await client.post("/api/knowledge/golden", json=too_many, headers=EDITOR)
    assert refused.status_code == 422 and "facts" in refused.text
    too_long = {**question, "question": "x" * 501}
    assert (await client.post("/api/knowledge/golden", json=too_long, headers=EDITOR)).status_code == 422
    golden = (await client.get("/api/knowledge/golden", headers=AGENT)).json()
    assert "is the deposit refunded?" in [r["question"] for r in golden["results"]]
    current = (await client.get("/api/knowledge/articles/lateness-policy", headers=EDITOR)).json()["latest"]
    garage = {
        **{k: v for k, v in current.items() if k != "id"},
        "answer": "The garage is open 24/7.",
        "body": "The garage is open 24/7.",
    }
    assert (
        await client.put("/api/knowledge/articles/lateness-policy", json=garage, headers=EDITOR)
    ).status_code == 200
    edited = (await client.get("/api/knowledge/articles/lateness-policy", headers=EDITOR)).json()
    assert edited["latest"]["response_keys"] == ["faq/lateness"], "an edit that omits the keys keeps them"
    refused = await client.post("/api/knowledge/articles/lateness-policy/publish", headers=EDITOR)
    assert refused.status_code == 409
    late = next(
        f
        for f in refused.json()["detail"]["failing"]
        if f["question"] == "what happens if I'm 15 minutes late?"
    )
    assert {"fact": "15-minute grace period", "status": "missing"} in [
        {k: f[k] for k in ("fact", "status")} for f in late["facts"]
    ]
    assert "lost fact(s): '15-minute grace period' (missing)" in refused.json()["detail"]["message"]


async def test_the_draft_is_diffed_against_the_live_version(client: httpx.AsyncClient) -> None:
    current = (await client.get("/api/knowledge/articles/gift-cards", headers=EDITOR)).json()["latest"]
    draft = {
        **{k: v for k, v in current.items() if k != "id"},
        "answer": (current["answer"] or "") + " <script>alert(1)</script>",
    }
    assert (
        await client.put("/api/knowledge/articles/gift-cards", json=draft, headers=EDITOR)
    ).status_code == 200
    diff = (await client.get("/api/knowledge/articles/gift-cards/diff", headers=AGENT)).json()
    assert (diff["base_version"], diff["target_version"], diff["changed"]) == (1, 2, True)
    assert [f["field"] for f in diff["fields"]] == ["answer"]
    [line] = diff["fields"][0]["lines"]
    assert line["op"] == "change"
    assert {"op": "insert", "text": " <script>alert(1)</script>"} in line["segments"]
    assert [s["op"] for s in line["segments"]] == ["equal", "insert"]
    same = (await client.get("/api/knowledge/articles/gift-cards/diff?base=2&target=2", headers=AGENT)).json()
    assert same["changed"] is False and same["fields"] == []
    assert (
        await client.get("/api/knowledge/articles/gift-cards/diff?base=9", headers=AGENT)
    ).status_code == 404
    assert (
        await client.get("/api/knowledge/articles/gift-cards/diff?base=0", headers=AGENT)
    ).status_code == 422
    new = await client.post("/api/knowledge/articles", json=NEW, headers=EDITOR)
    assert new.status_code == 201
    fresh = (await client.get("/api/knowledge/articles/sauna-etiquette/diff", headers=AGENT)).json()
    assert fresh["base_version"] is None and "body" in [f["field"] for f in fresh["fields"]]


async def test_the_markdown_preview_is_safe_html(client: httpx.AsyncClient) -> None:
    body = "## Aftercare\n\n<script>alert(1)</script> [map](https://mariia.example) [x](javascript:alert(1))"
    preview = await client.post("/api/knowledge/preview", json={"body": body}, headers=AGENT)
    assert preview.status_code == 200
    html = preview.json()["html"]
    assert "<h2>Aftercare</h2>" in html and '<a href="https://mariia.example">map</a>' in html
    assert "<script" not in html and "javascript:" in html and 'href="javascript' not in html
    too_long = await client.post("/api/knowledge/preview", json={"body": "x" * 200_001}, headers=AGENT)
    assert too_long.status_code == 422
    assert (await client.post("/api/knowledge/preview", json={"body": "x"})).status_code == 401
