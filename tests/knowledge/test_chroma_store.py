"""The Chroma store: hybrid search, filters, incremental re-indexing; embedded and as a server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.models import Article
from tests.knowledge.conftest import CountingEncoder, free_port

SAUNA = Article(
    id="sauna",
    title="Sauna",
    tags=["sauna"],
    answer="The sauna is in Mokotów, free for Gold members.",
    body="## Where\n\nThe dry sauna is in the Mokotów studio.\n\n"
    "## Price\n\nFree for Gold and Black members, 40 PLN otherwise.",
)
SAUNA_PL = Article(
    id="sauna-pl",
    title="Sauna",
    language="pl",
    translation_of="sauna",
    answer="Sauna jest na Mokotowie, bezpłatna dla członków Gold.",
    body="Sucha sauna na Mokotowie.",
)
XMAS = Article(
    id="xmas",
    title="Christmas opening hours",
    answer="Closed on 24-26 December.",
    valid_from=date(2026, 12, 1),
    valid_to=date(2027, 1, 7),
    body="Closed on 24, 25 and 26 December.",
)


async def exercise(store: ChromaKnowledgeStore) -> None:
    """The behaviour every deployment of the store must show."""
    await store.upsert_many([SAUNA, SAUNA_PL, XMAS])
    hits = await store.search("is there a sauna?", "en", 3, on=date(2026, 6, 1))
    assert hits[0].article_id == "sauna"
    assert hits[0].answer == SAUNA.answer
    assert 0 < hits[0].score <= 1 and hits[0].dense > 0.3
    assert {h.article_id for h in hits} == {"sauna"}, "the Christmas article is not valid in June"
    polish = await store.search("czy jest sauna?", "pl", 3, on=date(2026, 6, 1))
    assert {h.article_id for h in polish} == {"sauna-pl"}
    december = await store.search("are you open at christmas?", "en", 3, on=date(2026, 12, 20))
    assert december[0].article_id == "xmas"
    assert await store.delete("xmas") == 2
    assert all(
        h.article_id != "xmas" for h in await store.search("christmas", "en", 3, on=date(2026, 12, 20))
    )


async def test_embedded_store_persists_and_reopens(encoder: object, tmp_path: Path) -> None:
    store = ChromaKnowledgeStore.embedded(str(tmp_path / "chroma"), encoder)  # type: ignore[arg-type]
    await exercise(store)
    reopened = ChromaKnowledgeStore.embedded(str(tmp_path / "chroma"), encoder)  # type: ignore[arg-type]
    assert set(await reopened.article_hashes()) == {"sauna", "sauna-pl"}
    assert (await reopened.search("sauna price", "en", 1, on=date(2026, 6, 1)))[0].article_id == "sauna"


async def test_unchanged_articles_are_not_re_embedded_and_changed_chunks_are(encoder: object) -> None:
    counting = CountingEncoder(encoder)
    store = ChromaKnowledgeStore.in_memory(counting)  # type: ignore[arg-type]
    first = await store.upsert(SAUNA)
    assert first.added == 3 and len(counting.texts) == 3
    counting.texts.clear()
    assert (await store.upsert(SAUNA)).unchanged
    assert counting.texts == []
    edited = SAUNA.model_copy(update={"body": SAUNA.body.replace("40 PLN", "45 PLN")})
    result = await store.upsert(edited)
    assert (result.added, result.updated, result.removed) == (0, 1, 0)
    assert len(counting.texts) == 1 and "45 PLN" in counting.texts[0]
    shorter = edited.model_copy(update={"body": "## Where\n\nThe dry sauna is in the Mokotów studio."})
    assert (await store.upsert(shorter)).removed == 1
    hits = await store.search("sauna price 45 PLN", "en", 5, on=date(2026, 6, 1))
    assert all("45 PLN" not in h.text for h in hits)
    # a date change alone rewrites metadata without embedding again
    counting.texts.clear()
    await store.upsert(shorter.model_copy(update={"valid_to": date(2026, 1, 1)}))
    assert counting.texts == []
    assert await store.search("sauna", "en", 5, on=date(2026, 6, 1)) == []
    store.drop()


async def test_a_reopened_store_knows_each_articles_chunks(encoder: object, tmp_path: Path) -> None:
    """Re-ingesting a persisted index re-embeds nothing; deleting or shortening one article
    touches only its own chunks (the store keeps article -> chunks, never scans every row)."""
    articles = [
        Article(
            id=f"a{i}", title=f"Topic {i}", body=f"## One\n\nFirst part {i}.\n\n## Two\n\nSecond part {i}."
        )
        for i in range(30)
    ]
    first = ChromaKnowledgeStore.embedded(str(tmp_path / "chroma"), encoder, collection="reopen")  # type: ignore[arg-type]
    await first.upsert_many(articles)
    total = first.chunk_count
    counting = CountingEncoder(encoder)
    store = ChromaKnowledgeStore.embedded(str(tmp_path / "chroma"), counting, collection="reopen")  # type: ignore[arg-type]
    assert all(r.unchanged for r in await store.upsert_many(articles)) and counting.texts == []
    per_article = total // len(articles)
    assert await store.delete("a3") == per_article
    shorter = articles[7].model_copy(update={"body": "## One\n\nFirst part 7."})
    assert (await store.upsert(shorter)).removed == per_article - 1
    assert store.chunk_count == total - per_article - (per_article - 1)
    assert set(await store.article_hashes()) == {a.id for a in articles} - {"a3"}
    assert await store.delete("a3") == 0


def test_collection_names_need_three_characters(encoder: object) -> None:
    import chromadb

    from knowledge.chroma_store import chroma_settings

    with pytest.raises(ValueError, match="3 characters"):
        ChromaKnowledgeStore(chromadb.EphemeralClient(settings=chroma_settings()), encoder, collection="kb")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (``chroma run`` from the installed chromadb) on a free port."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma CLI is not installed next to this Python"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Chroma server did not start")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_store_on_a_chroma_server(encoder: object, chroma_server: str) -> None:
    store = ChromaKnowledgeStore.remote(chroma_server, encoder, collection="kb-server-test")  # type: ignore[arg-type]
    await exercise(store)
    again = ChromaKnowledgeStore.remote(chroma_server, encoder, collection="kb-server-test")  # type: ignore[arg-type]
    assert set(await again.article_hashes()) == {"sauna", "sauna-pl"}
    copy = await again.snapshot()
    assert (await copy.search("sauna", "en", 1, on=date(2026, 6, 1)))[0].article_id == "sauna"
    copy.drop()
    again.drop()
