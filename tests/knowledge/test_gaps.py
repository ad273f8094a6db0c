"""Knowledge gaps: unanswered and low-confidence questions are stored, grouped by meaning, ranked."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.gaps import GapLog
from knowledge.service import KnowledgeBase
from knowledge.tables import gaps


async def test_unanswered_questions_are_grouped_and_ranked_by_frequency(
    sqlite_engine: AsyncEngine, encoder: object
) -> None:
    log = GapLog(sqlite_engine, encoder)  # type: ignore[arg-type]
    asked = [
        ("do you do tattoo removal?", "no_answer"),
        ("can I get a tattoo removed?", "no_answer"),
        ("tattoo removal price", "low_confidence"),
        ("Do you do tattoo removal?", "handoff"),
        ("do you have a swimming pool?", "no_answer"),
        ("is there a pool I can swim in?", "no_answer"),
        ("what's the wifi password", "no_answer"),
        ("do you do laser hair removal", "no_answer"),
    ]
    for question, reason in asked:
        await log.record(question, "en", reason, 0.3, "web:client")
    report = await log.report()
    assert report[0].count == 4
    assert report[0].question.lower() == "do you do tattoo removal?"
    assert report[0].reasons == {"no_answer": 2, "low_confidence": 1, "handoff": 1}
    assert report[1].count == 2 and "pool" in report[1].question
    assert sorted(g.question for g in report[2:]) == [
        "do you do laser hair removal",
        "what's the wifi password",
    ]
    assert sum(g.count for g in report) == len(asked)


async def test_the_knowledge_base_logs_no_answers_but_not_confident_answers(
    sqlite_engine: AsyncEngine, encoder: object, demo_store: ChromaKnowledgeStore
) -> None:
    kb = KnowledgeBase(demo_store, gaps=GapLog(sqlite_engine, encoder))  # type: ignore[arg-type]
    await kb.ask("can you book me a taxi?", "en", on=date(2026, 12, 10), conversation_id="web:1")
    await kb.ask("what happens if I'm 15 minutes late?", "en", on=date(2026, 12, 10), conversation_id="web:1")
    await kb.record_handoff("I want to talk about my allergic reaction", "en", "web:2")
    async with sqlite_engine.connect() as conn:
        rows = (await conn.execute(select(gaps.c.question, gaps.c.reason).order_by(gaps.c.id))).all()
    assert [tuple(r) for r in rows] == [
        ("can you book me a taxi?", "no_answer"),
        ("I want to talk about my allergic reaction", "handoff"),
    ]


async def test_unknown_reason_is_refused(sqlite_engine: AsyncEngine, encoder: object) -> None:
    with pytest.raises(ValueError, match="reason"):
        await GapLog(sqlite_engine, encoder).record("q", "en", "bored")  # type: ignore[arg-type]
