"""The editor workflow on a real database: versions with authors, publish/unpublish/rollback,
and changes refused by the golden questions (SQLite, and PostgreSQL in its own schema)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.editor import EditorService
from knowledge.errors import ArticleConflict, ArticleNotFound, GoldenRefused, GoldenRegression
from knowledge.golden import GoldenQuestion
from knowledge.golden_store import GoldenStore, SeedResult
from knowledge.models import Article
from knowledge.repository import ArticleRepository
from knowledge.service import KnowledgeBase

DAY = date(2026, 12, 10)


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(
    request: pytest.FixtureRequest, sqlite_engine: AsyncEngine, postgres_url: str
) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        yield sqlite_engine
        return
    from bot.migrations import upgrade
    from bot.store.database import create_engine

    schema = f"kb_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(postgres_url, schema=schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


@pytest_asyncio.fixture
async def editor(
    engine: AsyncEngine,
    store_copy: ChromaKnowledgeStore,
    demo_articles: list[Article],
    golden: list[GoldenQuestion],
) -> EditorService:
    golden_set = GoldenStore(engine)  # the database's table, seeded from the file as at start-up
    await golden_set.seed(golden)
    service = EditorService(
        ArticleRepository(engine), KnowledgeBase(store_copy), golden_set, languages={"en", "pl", "uk"}
    )
    await service.import_articles(demo_articles, "ingest")
    return service


async def test_import_records_a_published_version_per_article(
    editor: EditorService, demo_articles: list[Article]
) -> None:
    records = await editor.repository.list_all()
    assert len(records) == len(demo_articles)
    assert all(r.status == "published" and r.published_version == 1 for r in records)
    assert await editor.import_articles(demo_articles, "ingest") == [], "unchanged files are not re-imported"


async def test_draft_is_invisible_until_published_then_answers(editor: EditorService) -> None:
    article = Article(
        id="sauna-etiquette",
        title="Sauna etiquette",
        category="fitness",
        tags=["sauna"],
        answer="In our sauna, please sit on a towel and keep sessions under 15 minutes.",
        body="Sit on a towel, shower before, keep sessions under 15 minutes.",
    )
    created = await editor.create(article, "anna")
    assert (created.version, created.author) == (1, "anna")
    tried = await editor.try_question("how should I behave in the sauna?", "en", DAY)
    assert all(p.article_id != "sauna-etiquette" for p in tried.passages)
    record = await editor.publish("sauna-etiquette", "anna")
    assert (record.status, record.published_version) == ("published", 1)
    tried = await editor.try_question("how should I behave in the sauna?", "en", DAY)
    assert tried.passages[0].article_id == "sauna-etiquette"
    assert tried.answer.answered and "towel" in (tried.answer.text or "")
    assert tried.passages[0].score == tried.verdict.confidence
    with pytest.raises(ArticleConflict):
        await editor.create(article, "anna")


async def test_edit_makes_a_version_and_goes_live_only_when_published(editor: EditorService) -> None:
    old = (await editor.repository.version("lateness-policy", 1)).article
    edited = old.model_copy(
        update={
            "answer": old.answer.replace(
                "15-minute grace period", "15-minute grace period (20 minutes for Black members)"
            )
        }
    )
    saved = await editor.update("lateness-policy", edited, "marta", "Black members get 20 minutes")
    assert (saved.version, saved.author, saved.note) == (2, "marta", "Black members get 20 minutes")
    live = await editor.try_question("what happens if I'm 15 minutes late?", "en", DAY)
    assert "Black members" not in (live.answer.text or "")
    await editor.publish("lateness-policy", "marta")
    live = await editor.try_question("what happens if I'm 15 minutes late?", "en", DAY)
    assert "20 minutes for Black members" in (live.answer.text or "")
    versions = await editor.repository.versions("lateness-policy")
    assert [(v.version, v.author) for v in versions] == [(1, "ingest"), (2, "marta")]


async def test_a_broken_edit_is_refused_with_the_failing_golden_questions(editor: EditorService) -> None:
    old = (await editor.repository.version("lateness-policy", 1)).article
    broken = old.model_copy(
        update={
            "title": "Parking for bicycles",
            "tags": ["bicycle"],
            "answer": "Bicycle racks are in front of every studio.",
            "body": "Bicycle racks are in front of every studio.",
        }
    )
    await editor.update("lateness-policy", broken, "intern")
    with pytest.raises(GoldenRegression) as refused:
        await editor.publish("lateness-policy", "intern")
    failing = {f.question for f in refused.value.failures}
    assert "what happens if I'm 15 minutes late?" in failing
    assert "what happens if I'm 15 minutes late?" in str(refused.value)
    record = await editor.repository.get("lateness-policy")
    assert (record.published_version, record.latest_version) == (1, 2), "the live version did not change"
    live = await editor.try_question("what happens if I'm 15 minutes late?", "en", DAY)
    assert live.answer.sources[0].article_id == "lateness-policy" and "grace" in (live.answer.text or "")


async def test_unpublishing_a_needed_article_is_refused_but_an_unneeded_one_is_not(
    editor: EditorService,
) -> None:
    with pytest.raises(GoldenRegression):
        await editor.unpublish("gift-cards", "anna")
    record = await editor.unpublish("refer-a-friend", "anna")
    assert (record.status, record.published_version) == ("unpublished", None)
    tried = await editor.try_question("do I get something for recommending you to a friend?", "en", DAY)
    assert all(p.article_id != "refer-a-friend" for p in tried.passages)


async def test_rollback_restores_an_old_version_as_a_new_one_and_publishes_it(editor: EditorService) -> None:
    old = (await editor.repository.version("deposits", 1)).article
    # (a change no golden fact covers: "30%" -> "40%" would now be refused as a contradiction)
    changed = old.model_copy(update={"answer": old.answer.replace("Black members", "Gold and Black members")})
    await editor.update("deposits", changed, "marta")
    await editor.publish("deposits", "marta")
    assert "Gold and Black" in (
        (await editor.try_question("do I have to pay a deposit?", "en", DAY)).answer.text or ""
    )
    restored = await editor.rollback("deposits", 1, "anna")
    assert (restored.version, restored.author, restored.note) == (3, "anna", "rollback to version 1")
    record = await editor.repository.get("deposits")
    assert (record.published_version, record.latest_version) == (3, 3)
    text_now = (await editor.try_question("do I have to pay a deposit?", "en", DAY)).answer.text or ""
    assert "30%" in text_now and "Gold and Black" not in text_now


async def test_rollback_only_to_a_version_that_was_published(editor: EditorService) -> None:
    v1 = (await editor.repository.version("gift-cards", 1)).article
    assert (await editor.repository.version("gift-cards", 1)).published_at is not None  # imported = live
    draft = v1.model_copy(update={"answer": (v1.answer or "") + " Wrapped in gold paper."})
    await editor.update("gift-cards", draft, "marta")
    assert (await editor.repository.version("gift-cards", 2)).published_at is None
    await editor.update("gift-cards", v1.model_copy(update={"title": "Gift cards and vouchers"}), "marta")
    with pytest.raises(ArticleConflict, match="version 2 of 'gift-cards' was never published"):
        await editor.rollback("gift-cards", 2, "anna")
    assert (await editor.repository.get("gift-cards")).latest_version == 3, "a refused rollback saves nothing"
    await editor.publish("gift-cards", "marta")
    assert (await editor.repository.version("gift-cards", 3)).published_at is not None
    restored = await editor.rollback("gift-cards", 1, "anna", base_version=3)
    assert (restored.version, restored.note, restored.article) == (4, "rollback to version 1", v1)
    record = await editor.repository.get("gift-cards")
    assert (record.latest_version, record.published_version, record.title) == (4, 4, v1.title)


async def test_a_change_made_on_a_stale_version_is_refused(editor: EditorService) -> None:
    v1 = (await editor.repository.version("deposits", 1)).article
    mine = v1.model_copy(update={"answer": (v1.answer or "") + " Mine."})
    theirs = v1.model_copy(update={"answer": (v1.answer or "") + " Theirs."})
    assert (await editor.update("deposits", theirs, "ola", base_version=1)).version == 2
    with pytest.raises(ArticleConflict, match="is at version 2, not 1"):
        await editor.update("deposits", mine, "marta", base_version=1)
    with pytest.raises(ArticleConflict, match="is at version 2, not 1"):
        await editor.rollback("deposits", 1, "marta", base_version=1)
    versions = await editor.repository.versions("deposits")
    assert [(v.version, v.author) for v in versions] == [(1, "ingest"), (2, "ola")]
    assert (await editor.update("deposits", mine, "marta", base_version=2)).version == 3


async def test_two_saves_on_the_same_version_cannot_both_win(editor: EditorService) -> None:
    v1 = (await editor.repository.version("deposits", 1)).article
    edits = [v1.model_copy(update={"answer": f"{v1.answer} Edit {n}."}) for n in range(4)]
    results = await asyncio.gather(
        *(editor.update("deposits", e, f"editor{n}", base_version=1) for n, e in enumerate(edits)),
        return_exceptions=True,
    )
    saved = [r for r in results if not isinstance(r, BaseException)]
    assert len(saved) == 1 and all(isinstance(r, ArticleConflict) for r in results if r not in saved)
    assert (await editor.repository.get("deposits")).latest_version == 2


async def test_unknown_article_and_version(editor: EditorService) -> None:
    with pytest.raises(ArticleNotFound):
        await editor.publish("nope-nope", "anna")
    with pytest.raises(ArticleNotFound):
        await editor.rollback("deposits", 9, "anna")


async def test_an_unchanged_file_does_not_overwrite_a_console_edit(
    editor: EditorService, demo_articles: list[Article]
) -> None:
    old = (await editor.repository.version("deposits", 1)).article
    await editor.update("deposits", old.model_copy(update={"answer": old.answer + " Ask us!"}), "marta")
    await editor.publish("deposits", "marta")
    assert await editor.import_articles(demo_articles, "ingest") == []
    assert (await editor.repository.get("deposits")).published_version == 2
    changed_file = [
        a.model_copy(update={"answer": "New deposit rules."}) if a.id == "deposits" else a
        for a in demo_articles
    ]
    assert await editor.import_articles(changed_file, "ingest") == ["deposits"]


async def test_the_garage_edit_is_refused_with_the_lost_fact_named(editor: EditorService) -> None:
    """The issue's case: the lateness article's whole text replaced by an unrelated sentence
    still ranks first for the lateness question, but its answer lost what it must say."""
    live = (await editor.repository.version("lateness-policy", 1)).article
    garage = live.model_copy(
        update={"answer": "The garage is open 24/7.", "body": "The garage is open 24/7."}
    )
    await editor.update("lateness-policy", garage, "anna")
    with pytest.raises(GoldenRegression) as refused:
        await editor.publish("lateness-policy", "anna")
    failing = {f.question: f for f in refused.value.failures}
    late = failing["what happens if I'm 15 minutes late?"]
    lost = {f.fact: f.status for f in late.lost_facts()}
    assert lost["15-minute grace period"] == "missing"
    assert "'15-minute grace period' (missing)" in str(refused.value)
    answer = await editor.kb.ask("what happens if I'm 15 minutes late?", "en", on=DAY, record_gaps=False)
    assert "grace period" in (answer.text or ""), "the live answer is unchanged"


async def test_a_contradicted_fact_is_refused_too(editor: EditorService) -> None:
    live = (await editor.repository.version("lateness-policy", 1)).article
    answer = (live.answer or "").replace("15-minute", "5-minute").replace("15 minutes", "5 minutes")
    await editor.update("lateness-policy", live.model_copy(update={"answer": answer}), "anna")
    with pytest.raises(GoldenRegression) as refused:
        await editor.publish("lateness-policy", "anna")
    late = next(f for f in refused.value.failures if f.question == "what happens if I'm 15 minutes late?")
    assert {f.fact: f.status for f in late.lost_facts()}["15-minute grace period"] == "contradicted"


async def test_an_edit_that_keeps_every_fact_is_published(editor: EditorService) -> None:
    live = (await editor.repository.version("lateness-policy", 1)).article
    kinder = (live.answer or "") + " Running late? Just send us a message."
    await editor.update("lateness-policy", live.model_copy(update={"answer": kinder}), "anna")
    record = await editor.publish("lateness-policy", "anna")
    assert record.published_version == 2


async def test_a_golden_question_added_from_a_gap_is_saved_and_gates_later_changes(
    editor: EditorService, engine: AsyncEngine, demo_store: ChromaKnowledgeStore
) -> None:
    # another process: its own editor service and index over the same database
    other_index = await demo_store.snapshot()
    other = EditorService(
        ArticleRepository(engine), KnowledgeBase(other_index), GoldenStore(engine), languages={"en"}
    )
    try:
        added = await editor.add_golden(
            GoldenQuestion(
                question="can I bring my dog?", expect=["children-and-pets"], facts=["assistance dogs"]
            ),
            "anna",
        )
        assert added.passed and added.facts[0].status == "present"
        seen = [q for q in await other.golden.all() if q.question == "can I bring my dog?"]
        assert [(q.expect, q.facts) for q in seen] == [(["children-and-pets"], ["assistance dogs"])]
        with pytest.raises(ArticleConflict):  # the same question, whichever process adds it
            await other.add_golden(GoldenQuestion(question="Can I  bring my dog?", expect=[]))
        with pytest.raises(ArticleNotFound):
            await editor.add_golden(GoldenQuestion(question="sauna towels?", expect=["no-such-article"]))
        with pytest.raises(GoldenRefused, match="'de' is not one the bot speaks"):
            await editor.add_golden(GoldenQuestion(question="Hund erlaubt?", language="de"))
        pets = (await editor.repository.version("children-and-pets", 1)).article
        no_dogs = pets.model_copy(
            update={"answer": (pets.answer or "").replace(", except assistance dogs", "")}
        )
        await editor.update("children-and-pets", no_dogs, "anna")
        # the other process's gate runs the question the first one added, without a restart
        await other.sync_index()
        with pytest.raises(GoldenRegression, match="assistance dogs"):
            await other.publish("children-and-pets", "ewa")
    finally:
        other_index.drop()


async def test_the_golden_file_seeds_the_table_and_keeps_its_own_questions_in_step(
    engine: AsyncEngine, golden: list[GoldenQuestion]
) -> None:
    store = GoldenStore(engine)
    assert await store.seed(golden) == SeedResult(added=len(golden), changed=0, removed=0)
    editors = GoldenQuestion(question="is the deposit refunded?", expect=["deposits"])
    await store.add(editors, "anna")
    assert await store.seed(golden) == SeedResult(0, 0, 0)  # a restart or deploy changes nothing
    stored = await store.all()
    assert stored == [*golden, editors]
    # a deploy whose file states a new fact for its first question and drops its second
    first = golden[0].model_copy(update={"facts": [*golden[0].facts, "a new fact"]})
    edited = [first, *golden[2:]]
    assert await store.seed(edited) == SeedResult(added=0, changed=1, removed=1)
    assert await store.all() == [*edited, editors]  # the editor's question is the editor's
