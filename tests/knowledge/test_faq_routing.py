"""FAQ answers come from the articles that name the response selector's key, and only when
retrieval backs the guess; what was tried is kept with the gap."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from actions.knowledge import route_of
from bot.store import EventStore
from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.gaps import GapLog, gap_event, register_gap_projection
from knowledge.models import Article
from knowledge.service import KnowledgeBase, Route

DAY = date(2026, 12, 10)
FAQ_KEYS = {
    "faq/cancellation_policy",
    "faq/lateness",
    "faq/deposit",
    "faq/patch_test",
    "faq/parking",
    "faq/payment_methods",
    "faq/aftercare",
    "faq/refunds",
    "faq/what_to_bring",
    "faq/classes",
}


def faq(key: str, confidence: float = 1.0) -> Route:
    return Route(intent="faq", intent_confidence=1.0, key=key, key_confidence=confidence)


def test_every_faq_key_of_the_demo_is_answered_by_an_article(
    demo_articles: list[Article], repo_dir: Path
) -> None:
    keys = {k for a in demo_articles for k in a.response_keys}
    assert keys == FAQ_KEYS
    # and none is kept as a copy in the domain any more
    assert "utter_faq/" not in (repo_dir / "domain.yml").read_text(encoding="utf-8")
    translated = {a.id for a in demo_articles if a.language != "en" and a.response_keys}
    assert {"lateness-policy-pl", "lateness-policy-uk", "cancellation-policy-pl"} <= translated


async def test_a_backed_key_answers_from_its_article_in_the_clients_language(
    demo_store: ChromaKnowledgeStore,
) -> None:
    kb = KnowledgeBase(demo_store)
    answer = await kb.ask(
        "is there parking in Kraków?", "en", on=DAY, route=faq("faq/parking"), record_gaps=False
    )
    assert answer.answered and answer.sources[0].article_id == "parking-and-transport"
    assert (answer.text or "").startswith("Mokotów has an underground garage with 2 hours free")
    polish = await kb.ask(
        "Spóźnię się 10 minut, co teraz?", "pl", on=DAY, route=faq("faq/lateness"), record_gaps=False
    )
    assert polish.sources[0].article_id == "lateness-policy-pl" and "15 minut" in (polish.text or "")
    # one key, several articles: the one retrieval finds best for this question
    lashes = await kb.ask(
        "any aftercare tips for my lashes?", "en", on=DAY, route=faq("faq/aftercare"), record_gaps=False
    )
    assert lashes.sources[0].article_id == "aftercare-lash-extensions"


async def test_a_guess_retrieval_does_not_back_goes_to_the_knowledge_base(
    demo_store: ChromaKnowledgeStore, sqlite_engine: AsyncEngine
) -> None:
    kb = KnowledgeBase(demo_store, gaps=GapLog(sqlite_engine))
    # the response selector's guess for "can I bring my dog?" is what to bring to a first visit
    dog = await kb.ask("can I bring my dog?", "en", on=DAY, route=faq("faq/what_to_bring", 0.7))
    assert dog.sources[0].article_id == "children-and-pets" and "Pets are not allowed" in (dog.text or "")
    teeth = await kb.ask("teeth whitening?", "en", on=DAY, route=faq("faq/aftercare", 0.9))
    assert not teeth.answered and teeth.text is None
    assert teeth.gap is not None and teeth.gap.reason == "no_answer"
    tried = teeth.gap.tried or ""
    assert "response selector faq/aftercare 0.90" in tried and "below" in tried and "knowledge base:" in tried
    assert dog.gap is not None  # answered from the pets article, with low confidence: a gap
    dog_tried = dog.gap.tried or ""
    assert "first-visit 0.39" in dog_tried and "knowledge base: children-and-pets" in dog_tried
    # the knowledge action writes them to the log; the gaps list shows them
    store = EventStore(sqlite_engine)
    await register_gap_projection(store)
    for conversation, question, answer in (
        ("rest:c1", "can I bring my dog?", dog),
        ("rest:c2", "teeth whitening?", teeth),
    ):
        assert answer.gap is not None
        await store.append(
            conversation, [gap_event(question, "en", answer.gap.reason, answer.confidence, answer.gap.tried)]
        )
    report = await GapLog(sqlite_engine).report()
    assert any(g.question == "teeth whitening?" and g.tried for g in report)


async def test_a_low_confidence_key_is_not_routed(demo_store: ChromaKnowledgeStore) -> None:
    kb = KnowledgeBase(demo_store)
    answer = await kb.ask(
        "do you do tattoo removal?", "en", on=DAY, route=faq("faq/payment_methods", 0.21), record_gaps=False
    )
    assert not answer.answered


def test_the_route_is_read_from_the_parse() -> None:
    parse = {
        "intent": {"name": "faq", "confidence": 0.97},
        "response_selector": {
            "all_retrieval_intents": ["faq"],
            "faq": {"response": {"intent_response_key": "faq/lateness", "confidence": 0.88}, "ranking": []},
        },
    }
    route = route_of(parse)
    assert (route.intent, route.key, route.key_confidence) == ("faq", "faq/lateness", 0.88)
    unsure = route_of(
        {
            "intent": {"name": "nlu_fallback", "confidence": 0.4},
            "response_selector": parse["response_selector"],
        }
    )
    assert unsure.key is None, "a key is only taken for the intent it belongs to"
