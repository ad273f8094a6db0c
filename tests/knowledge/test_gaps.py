"""Knowledge gaps as a read model: unanswered and low-confidence questions are events of the
log, land in their cluster at append time, are reported by date range, rebuild to the same
rows, and leave with an erased client (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.events import BotUttered, KnowledgeGapNoted, UserUttered
from bot.store import EventStore
from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.gaps import GapLog, gap_event, gap_key, register_gap_projection
from knowledge.service import KnowledgeBase
from knowledge.tables import gap_clusters, gaps
from privacy.base import Run
from privacy.erasers.gaps import GapEraser
from privacy.subject import DataSubject
from tests.database_support import BACKENDS, migrated_store

DAY = 86_400.0
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    """A migrated event store that keeps the gaps read model."""
    async with migrated_store(request.param, tmp_path, postgres_url, "test_gaps") as store:
        await register_gap_projection(store)
        yield store


def asked(
    question: str, reason: str = "no_answer", at: float = T0, language: str = "en"
) -> KnowledgeGapNoted:
    event = gap_event(question, language, reason, 0.3, tried="knowledge base: nothing retrieved")
    return event.model_copy(update={"timestamp": at})


async def clusters(store: EventStore) -> dict[str, tuple[str, int, datetime, datetime]]:
    """Each cluster by key: its example, count, first and last asked."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(gap_clusters))).all()
    return {r.key: (r.example, r.count, r.first_seen, r.last_seen) for r in rows}


async def gap_rows(store: EventStore) -> list[tuple[object, ...]]:
    """Each gap with its cluster's key (ids differ after a rebuild, keys do not)."""
    query = select(
        gaps.c.conversation_id,
        gaps.c.seq,
        gaps.c.question,
        gaps.c.reason,
        gaps.c.created_at,
        gap_clusters.c.key,
    ).join(gap_clusters, gap_clusters.c.id == gaps.c.cluster_id)
    async with store.engine.connect() as conn:
        return sorted(tuple(r) for r in (await conn.execute(query)).all())


def test_paraphrases_sharing_their_content_words_share_a_key() -> None:
    tattoo = {
        gap_key(q)
        for q in ("do you do tattoo removal?", "Can I get a tattoo removed?", "tattoo removal price")
    }
    assert tattoo == {"remov tattoo"}
    assert gap_key("do you have a swimming pool?") == gap_key("is there a pool I can swim in?")
    assert gap_key("do you do laser hair removal") != gap_key("do you do tattoo removal?")
    assert gap_key("Czy macie karty podarunkowe?") == gap_key("karta podarunkowa")
    assert gap_key("hi?") == "hi"  # nothing but fillers: the words themselves


async def test_gaps_land_in_their_clusters_at_append_and_are_ranked(store: EventStore) -> None:
    questions = [
        ("do you do tattoo removal?", "no_answer"),
        ("can I get a tattoo removed?", "no_answer"),
        ("tattoo removal price", "low_confidence"),
        ("Do you do tattoo removal?", "handoff"),
        ("do you have a swimming pool?", "no_answer"),
        ("is there a pool I can swim in?", "no_answer"),
        ("what's the wifi password", "no_answer"),
        ("do you do laser hair removal", "no_answer"),
    ]
    for i, (question, reason) in enumerate(questions):
        await store.append(
            f"widget:c{i % 3}",
            [
                UserUttered(text=question, timestamp=T0 + i),
                asked(question, reason, T0 + i),
                BotUttered(text="?"),
            ],
        )
    assert (await clusters(store))["remov tattoo"][:2] == ("do you do tattoo removal?", 4)
    report = await GapLog(store.engine).report(since=datetime.fromtimestamp(T0 - DAY, UTC))
    assert report[0].count == 4 and report[0].total == 4
    assert report[0].question.lower() == "do you do tattoo removal?"
    assert report[0].reasons == {"no_answer": 2, "low_confidence": 1, "handoff": 1}
    assert report[0].languages == {"en": 4}
    assert report[0].first_asked == datetime.fromtimestamp(T0, UTC)
    assert report[0].tried == ["knowledge base: nothing retrieved"]
    assert report[1].count == 2 and "pool" in report[1].question
    assert sorted(g.question for g in report[2:]) == [
        "do you do laser hair removal",
        "what's the wifi password",
    ]
    assert sum(g.count for g in report) == len(questions)


async def test_the_report_respects_both_ends_of_the_range(store: EventStore) -> None:
    for day in range(10):  # one "parking" question a day, and "sauna" on days 3 and 4 only
        batch = [asked("is parking free?", at=T0 + day * DAY)]
        if day in (3, 4):
            batch += [asked("sauna towels?", at=T0 + day * DAY + 60)] * 3
        await store.append(f"widget:d{day}", batch)
    log = GapLog(store.engine)
    since, until = datetime.fromtimestamp(T0 + 3 * DAY, UTC), datetime.fromtimestamp(T0 + 5 * DAY, UTC)
    report = await log.report(since=since, until=until)
    assert [(g.question, g.count) for g in report] == [("sauna towels?", 6), ("is parking free?", 2)]
    assert report[1].last_asked == datetime.fromtimestamp(T0 + 4 * DAY, UTC)  # not day 5: the end is excluded
    assert report[1].total == 10  # the cluster's all-time count
    everything = await log.report(since=datetime.fromtimestamp(T0, UTC), limit=1)
    assert [(g.question, g.count) for g in everything] == [("is parking free?", 10)]


async def test_a_rebuild_from_the_log_equals_the_incremental_read_model(store: EventStore) -> None:
    rng = random.Random(7)
    wordings = [
        "do you do tattoo removal?",
        "tattoo removal price",
        "is there a pool?",
        "do you have a swimming pool?",
        "Czy macie karty podarunkowe?",
        "чи є у вас парковка?",
        "wifi password",
    ]
    ids = [f"widget:r{i}" for i in range(9)]
    for _ in range(80):  # conversations interleaved in time: the rebuild replays them one by one
        question = rng.choice(wordings)
        event = asked(question, rng.choice(["no_answer", "low_confidence"]), T0 + rng.uniform(0, 20 * DAY))
        await store.append(rng.choice(ids), [UserUttered(text=question, timestamp=event.timestamp), event])
    live_clusters, live_rows = await clusters(store), await gap_rows(store)
    assert len(live_rows) == 80 and sum(c[1] for c in live_clusters.values()) == 80
    await store.rebuild_projections(["knowledge_gaps"])
    assert await clusters(store) == live_clusters
    assert await gap_rows(store) == live_rows


async def test_appenders_asking_a_new_question_at_once_share_one_cluster(store: EventStore) -> None:
    wordings = ["Do you sell wigs?", "sell wigs?", "do you sell wigs", "WIGS, do you sell?"] * 3
    await asyncio.gather(
        *(store.append(f"widget:w{n}", [asked(q, at=T0 + n)]) for n, q in enumerate(wordings))
    )
    assert {key: found[1] for key, found in (await clusters(store)).items()} == {gap_key("sell wigs?"): 12}
    assert (await clusters(store))[gap_key("sell wigs?")][0] == "Do you sell wigs?"  # the earliest


async def test_erasing_a_client_removes_their_questions_and_examples(store: EventStore) -> None:
    await store.append("whatsapp:anna", [asked("is parking free for Anna Nowak?", at=T0)])
    await store.append("widget:other", [asked("is parking free?", at=T0 + 60)])
    await store.append("whatsapp:anna", [asked("do you sell gift cards?", at=T0 + 120)])
    before = await clusters(store)
    assert before[gap_key("is parking free?")][0] == "is parking free?"  # Anna's has her name in its key
    subject = DataSubject(conversation_ids=frozenset({"whatsapp:anna"}), names=frozenset({"Anna Nowak"}))
    async with store.engine.begin() as conn:
        removed = await GapEraser().erase(subject, Run(conn=conn, now=datetime.now(UTC)))
    assert removed == 2
    after = await clusters(store)
    assert set(after) == {gap_key("is parking free?")}  # the gift cards cluster was Anna's alone
    assert after[gap_key("is parking free?")][:2] == ("is parking free?", 1)
    report = await GapLog(store.engine).report(since=datetime.fromtimestamp(T0 - DAY, UTC))
    assert [(g.question, g.count, g.examples) for g in report] == [
        ("is parking free?", 1, ["is parking free?"])
    ]


async def test_erase_gives_a_shared_cluster_an_example_that_is_not_the_clients(store: EventStore) -> None:
    await store.append("whatsapp:anna", [asked("Do you do tattoo removal?", at=T0)])  # the earliest
    await store.append("widget:other", [asked("tattoo removal price", at=T0 + 60)])
    key = gap_key("tattoo removal price")
    assert (await clusters(store))[key][:2] == ("Do you do tattoo removal?", 2)
    subject = DataSubject(conversation_ids=frozenset({"whatsapp:anna"}))
    async with store.engine.begin() as conn:
        await GapEraser().erase(subject, Run(conn=conn, now=datetime.now(UTC)))
    example, count, first, _ = (await clusters(store))[key]
    assert (example, count, first) == ("tattoo removal price", 1, datetime.fromtimestamp(T0 + 60, UTC))


async def test_the_knowledge_base_notes_no_answers_but_not_confident_answers(
    demo_store: ChromaKnowledgeStore,
) -> None:
    kb = KnowledgeBase(demo_store)
    taxi = await kb.ask("can you book me a taxi?", "en", on=date(2026, 12, 10))
    late = await kb.ask("what happens if I'm 15 minutes late?", "en", on=date(2026, 12, 10))
    tried = await kb.ask("can you book me a taxi?", "en", on=date(2026, 12, 10), record_gaps=False)
    assert (
        taxi.gap is not None and taxi.gap.reason == "no_answer" and "knowledge base" in (taxi.gap.tried or "")
    )
    assert late.answered and late.gap is None
    assert tried.gap is None  # an editor's or agent's try is not a client's gap


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="reason"):
        gap_event("q", "en", "bored")


def test_concierge_projections_rebuild_knows_the_gaps_read_model() -> None:
    from typer.testing import CliRunner

    from handoff.projections_cli import projections_app

    listed = CliRunner().invoke(projections_app, ["list"])
    assert listed.exit_code == 0 and "knowledge_gaps: follows knowledge_gap" in listed.stdout
