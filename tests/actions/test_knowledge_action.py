"""``action_answer_from_knowledge`` in a conversation: the answer with its source, or an honest
"I don't know" with a human offered, and the unanswered question logged as a knowledge gap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from action_testkit import user_message
from sqlalchemy import select

from actions.knowledge import HANDOFF_PAYLOAD, ActionAnswerFromKnowledge
from bot.domain import ACTION_LISTEN, Domain
from bot.events import ActionExecuted, BotUttered, KnowledgeGapNoted, SlotSet
from bot.loaders import load_domain
from bot.nlg import ResponseRenderer
from bot.store import EventStore
from bot.tracker import Tracker
from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.gaps import GapLog, register_gap_projection
from knowledge.markdown import load_articles
from knowledge.service import KnowledgeBase
from knowledge.tables import gaps

ARTICLES = (
    "lateness-policy",
    "lateness-policy-pl",
    "lateness-policy-ru",
    "gift-cards",
    "cancellation-policy",
)


@pytest.fixture(scope="module")
def encoder() -> object:
    from knowledge.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="module")
def store(encoder: object, repo_dir: Path) -> Iterator[ChromaKnowledgeStore]:
    articles = [a for a in load_articles(repo_dir / "data" / "knowledge") if a.id in ARTICLES]
    store = ChromaKnowledgeStore.in_memory(encoder)  # type: ignore[arg-type]
    store.upsert_many_sync(articles)
    yield store
    store.drop()


@pytest_asyncio.fixture
async def event_store(tmp_path: Path) -> AsyncIterator[EventStore]:
    """A migrated SQLite event store keeping the knowledge gaps read model."""
    store = EventStore.from_url(f"sqlite:///{tmp_path / 'gaps.db'}")
    await store.migrate()
    await register_gap_projection(store)
    yield store
    await store.close()


@pytest.fixture(scope="module")
def demo_domain(repo_dir: Path) -> Domain:
    return load_domain([repo_dir / "domain.yml"])


def tracker_for(domain: Domain, text: str, language: str, intent: str = "out_of_scope") -> Tracker:
    message = user_message(text, intent)
    message = message.model_copy(
        update={"parse_data": message.parse_data.model_copy(update={"language": language})}
    )
    return Tracker.for_domain("client-7", domain, [ActionExecuted(name=ACTION_LISTEN), message])


async def test_answers_with_the_source(store: ChromaKnowledgeStore, demo_domain: Domain) -> None:
    action = ActionAnswerFromKnowledge(KnowledgeBase(store))
    tracker = tracker_for(demo_domain, "what happens if I'm 15 minutes late?", "en")
    events = await action.run(tracker, demo_domain, ResponseRenderer(demo_domain), "rest")
    [uttered] = [e for e in events if isinstance(e, BotUttered)]
    assert "15-minute grace period" in (uttered.text or "")
    assert (uttered.text or "").endswith("Source: Arriving late to an appointment")
    knowledge = uttered.metadata["knowledge"]
    assert knowledge["answered"] and knowledge["sources"][0]["article_id"] == "lateness-policy"


async def test_answers_in_the_clients_language(store: ChromaKnowledgeStore, demo_domain: Domain) -> None:
    action = ActionAnswerFromKnowledge(KnowledgeBase(store))
    tracker = tracker_for(demo_domain, "Spóźnię się 15 minut, co wtedy?", "pl")
    [uttered, *_] = await action.run(tracker, demo_domain, ResponseRenderer(demo_domain), "rest")
    assert isinstance(uttered, BotUttered)
    assert "15 minut" in (uttered.text or "") and "Źródło: Spóźnienie na wizytę" in (uttered.text or "")


async def test_a_russian_client_reads_the_answer_its_source_and_the_no_answer_in_russian(
    store: ChromaKnowledgeStore, demo_domain: Domain
) -> None:
    action = ActionAnswerFromKnowledge(KnowledgeBase(store))
    tracker = tracker_for(demo_domain, "Я опоздаю на 15 минут, что тогда?", "ru")
    [uttered, *_] = await action.run(tracker, demo_domain, ResponseRenderer(demo_domain), "rest")
    assert isinstance(uttered, BotUttered) and uttered.metadata["knowledge"]["answered"]
    assert uttered.metadata["knowledge"]["sources"][0]["article_id"] == "lateness-policy-ru"
    assert "\n\nИсточник: " in (uttered.text or "")
    tracker = tracker_for(demo_domain, "вы делаете удаление татуировок?", "ru")
    tracker.update(SlotSet(name="language", value="ru"))  # as the engine sets it from the message
    [uttered, *_] = await action.run(tracker, demo_domain, ResponseRenderer(demo_domain), "rest")
    assert isinstance(uttered, BotUttered) and not uttered.metadata["knowledge"]["answered"]
    assert (uttered.text or "").startswith("Извините, я не знаю ответа на этот вопрос")
    assert uttered.data["buttons"][0]["title"] == "Связаться с человеком"


async def test_unanswerable_gets_an_honest_no_a_human_offer_and_a_gap(
    store: ChromaKnowledgeStore, demo_domain: Domain, event_store: EventStore
) -> None:
    kb = KnowledgeBase(store, gaps=GapLog(event_store.engine))
    action = ActionAnswerFromKnowledge(kb)
    tracker = tracker_for(demo_domain, "do you do tattoo removal?", "en")
    events = await action.run(tracker, demo_domain, ResponseRenderer(demo_domain), "rest")
    uttered, gap = events[0], events[-1]
    assert isinstance(uttered, BotUttered)
    assert "don't know" in (uttered.text or "")
    assert uttered.data["buttons"] == [{"title": "Talk to a person", "payload": HANDOFF_PAYLOAD}]
    assert uttered.metadata["knowledge"]["answered"] is False
    # the gap is an event of the turn; the read model has it once the turn is appended
    assert (
        isinstance(gap, KnowledgeGapNoted)
        and gap.reason == "no_answer"
        and "knowledge base" in (gap.tried or "")
    )
    await event_store.append("rest:client-7", events)
    async with event_store.engine.connect() as conn:
        rows = (await conn.execute(select(gaps.c.question, gaps.c.reason, gaps.c.conversation_id))).all()
    assert [tuple(r) for r in rows] == [("do you do tattoo removal?", "no_answer", "rest:client-7")]
    [group] = await kb.gaps.report()  # type: ignore[union-attr]
    assert group.question == "do you do tattoo removal?" and group.count == 1


async def test_a_domain_response_for_no_answer_is_used_when_there_is_one(
    store: ChromaKnowledgeStore, domain_from_yaml: Callable[[str], Domain]
) -> None:
    domain = domain_from_yaml("""
        version: "3.1"
        intents: [out_of_scope, request_human]
        slots:
          kb_sources:
            type: any
            mappings: [{type: custom}]
        responses:
          utter_kb_no_answer:
            - text: "No idea, sorry - want a human?"
              buttons: [{title: "Human", payload: "/request_human"}]
        actions: [action_answer_from_knowledge]
    """)
    action = ActionAnswerFromKnowledge(KnowledgeBase(store))
    events = await action.run(
        tracker_for(domain, "can you book me a taxi?", "en"), domain, ResponseRenderer(domain), "rest"
    )
    uttered = events[0]
    assert isinstance(uttered, BotUttered) and uttered.text == "No idea, sorry - want a human?"
    assert events[1].model_dump()["name"] == "kb_sources" and events[1].model_dump()["value"] is None
    answered = await action.run(
        tracker_for(domain, "how long is a gift card valid?", "en"), domain, ResponseRenderer(domain), "rest"
    )
    assert answered[1].model_dump()["value"] == ["gift-cards"]


async def test_button_payloads_are_not_questions(store: ChromaKnowledgeStore, demo_domain: Domain) -> None:
    action = ActionAnswerFromKnowledge(KnowledgeBase(store))
    tracker = tracker_for(demo_domain, "/request_human", "en", intent="request_human")
    assert await action.run(tracker, demo_domain, ResponseRenderer(demo_domain), "rest") == []
