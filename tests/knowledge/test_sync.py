"""One knowledge base across processes: each process's index follows what any process publishes,
and two processes never share one embedded index directory."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.editor import EditorService
from knowledge.models import Article
from knowledge.repository import ArticleRepository
from knowledge.service import KnowledgeBase
from knowledge.sync import LOCK_FILE, IndexSync, claim_embedded_path

QUESTION = "are sauna towels free?"


async def sources(editor: EditorService) -> list[str]:
    """The articles the editor's index answers :data:`QUESTION` from, best first."""
    passages, _verdict = await editor.kb.retrieve(QUESTION, "en")
    return [p.article_id for p in passages]


@pytest.fixture
def second_copy(demo_store: ChromaKnowledgeStore) -> Iterator[ChromaKnowledgeStore]:
    """Another process's index: its own copy of the demo index."""
    copy = demo_store.snapshot_sync()
    yield copy
    copy.drop()


async def test_an_article_published_through_one_editor_reaches_the_other_index(
    sqlite_engine: AsyncEngine,
    store_copy: ChromaKnowledgeStore,
    second_copy: ChromaKnowledgeStore,
    demo_articles: list[Article],
    article: Article,
) -> None:
    here = EditorService(ArticleRepository(sqlite_engine), KnowledgeBase(store_copy), [])
    there = EditorService(ArticleRepository(sqlite_engine), KnowledgeBase(second_copy), [])
    await here.import_articles(demo_articles, "ingest")
    sync_there, sync_here = IndexSync(there, sqlite_engine), IndexSync(here, sqlite_engine)
    await sync_there.mark_current()
    await sync_here.mark_current()
    assert article.id not in await sources(there)

    await here.create(article, "ewa")
    await here.publish(article.id, "ewa")
    assert await sync_there.check()  # the other process notices and re-syncs
    answer = await there.kb.ask(QUESTION, record_gaps=False)
    assert answer.answered and answer.sources[0].article_id == article.id
    assert not await sync_there.check()  # nothing changed since

    assert await sync_here.check()  # the publishing process finds nothing left to embed
    await here.unpublish(article.id, "ewa")
    assert await sync_there.check()
    assert article.id not in await sources(there)


async def test_the_background_sync_follows_publishes(
    sqlite_engine: AsyncEngine,
    store_copy: ChromaKnowledgeStore,
    second_copy: ChromaKnowledgeStore,
    article: Article,
) -> None:
    here = EditorService(ArticleRepository(sqlite_engine), KnowledgeBase(store_copy), [])
    there = EditorService(ArticleRepository(sqlite_engine), KnowledgeBase(second_copy), [])
    sync = IndexSync(there, sqlite_engine, interval=0.05)
    await sync.mark_current()
    sync.start()
    try:
        await here.create(article, "ewa")
        await here.publish(article.id, "ewa")
        published = await sync.fingerprint()
        # A round may run between create and publish (it sees the draft only), so wait for
        # the round that saw the published state, not merely for the first round.
        async with asyncio.timeout(10):
            while sync.rounds == 0 or sync.synced != published:  # noqa: ASYNC110  # the loop's own state
                await asyncio.sleep(0.02)
        assert (await sources(there))[:1] == [article.id]
    finally:
        await sync.stop()


HOLDER = """
import sys, time
from pathlib import Path
from knowledge.sync import claim_embedded_path
path, handle = claim_embedded_path(Path(sys.argv[1]))
print(path, flush=True)
time.sleep(60)
"""


async def test_each_process_claims_an_embedded_index_directory_of_its_own(tmp_path: Path) -> None:
    base = tmp_path / "chroma"
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(HOLDER), str(base), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert other.stdout is not None
        async with asyncio.timeout(60):
            assert (await other.stdout.readline()).decode().strip() == str(base)
        mine, handle = claim_embedded_path(base)
        assert mine == tmp_path / "chroma-2" and (mine / LOCK_FILE).is_file()
        again, second = claim_embedded_path(base)  # the same process shares its own directory
        assert again == mine
        second.close()
        handle.close()
    finally:
        other.kill()
        await other.wait()
    freed, handle = claim_embedded_path(base)  # the other process died: its directory is free again
    assert freed == base
    handle.close()


@pytest.mark.parametrize("in_memory", [True, False], ids=["memory", "file"])
async def test_turns_appended_while_a_serving_process_follows_articles_all_land(
    tmp_path: Path, encoder: object, in_memory: bool
) -> None:
    """Regression: on an in-memory database the sync's own connections shared the store's one
    connection and rolled back appends in flight (``UNIQUE constraint failed: events...``).
    A single process cannot need the sync there, so none is built; on a file it runs."""
    import time

    from bot.events import UserUttered
    from bot.store.event_store import EventStore
    from knowledge.settings import KnowledgeSettings, build_knowledge

    store = EventStore.from_url("sqlite:///:memory:" if in_memory else f"sqlite:///{tmp_path / 'bot.db'}")
    await store.migrate()
    services = await build_knowledge(
        KnowledgeSettings(chroma_path=tmp_path / "chroma"),
        encoder,  # type: ignore[arg-type]
        project_dir=tmp_path,
        state_dir=tmp_path,
        engine=store.engine,
        follow=True,
    )
    try:
        assert (services.sync is None) == in_memory
        if services.sync is not None:
            services.sync.interval = 0.001  # poll as often as it can, between the appends
            services.sync.start()

        async def conversation(n: int) -> None:
            for seq in range(30):
                event = UserUttered(text=f"message {seq}", timestamp=time.time())
                await store.append(f"rest:client-{n}", [event], expected_seq=seq)

        await asyncio.gather(*(conversation(n) for n in range(4)))
        assert [await store.latest_seq(f"rest:client-{n}") for n in range(4)] == [30] * 4
    finally:
        await services.aclose()
        await store.close()
