"""CSAT: the question in the client's language, and the answer recorded once per question."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from actions.csat import ActionRecordCsat, csat_payload, csat_question
from bot.domain import Domain
from bot.events import (
    BotUttered,
    CsatRecorded,
    CsatRequested,
    EntityValue,
    Event,
    IntentPrediction,
    ParseData,
    SlotSet,
    UserUttered,
)
from bot.loaders import load_domain
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_domain() -> Domain:
    return load_domain([REPO / "domain.yml"])


def tap(score: int, language: str = "en") -> UserUttered:
    """The client pressing a score button (the payload as the NLU parses it)."""
    payload = csat_payload(score)
    return UserUttered(
        text=payload,
        parse_data=ParseData(
            text=payload,
            intent=IntentPrediction(name="csat"),
            entities=[EntityValue(entity="score", value=score)],
            language=language,
        ),
    )


def tracker(domain: Domain, *events: Event) -> Tracker:
    return Tracker.for_domain("widget:abc", domain, list(events))


def test_the_payload_is_rasa_style() -> None:
    assert csat_payload(5) == '/csat{"score":5}'
    assert json.loads(csat_payload(3)[len("/csat") :]) == {"score": 3}


def test_the_question_follows_the_language_slot_with_five_score_buttons(demo_domain: Domain) -> None:
    nlg = ResponseRenderer(demo_domain)
    asked = csat_question(
        tracker(demo_domain, SlotSet(name="language", value="pl")),
        demo_domain,
        nlg,
        "widget",
        agent_id="anna.kowalska",
    )
    assert isinstance(asked[0], CsatRequested) and asked[0].agent_id == "anna.kowalska"
    message = asked[1]
    assert isinstance(message, BotUttered)
    assert message.text is not None and message.text.startswith("Jak oceniasz dzisiejszą pomoc?")
    assert [(b["title"], b["payload"]) for b in message.data["buttons"]] == [
        ("1 Słabo", '/csat{"score":1}'),
        ("2 Przeciętnie", '/csat{"score":2}'),
        ("3 Dobrze", '/csat{"score":3}'),
        ("4 Bardzo dobrze", '/csat{"score":4}'),
        ("5 Doskonale", '/csat{"score":5}'),
    ]
    assert message.metadata["sender"] == "bot" and message.metadata["csat"] is True


def test_a_domain_without_the_responses_gets_the_built_in_texts(
    domain_from_yaml: Callable[[str], Domain],
) -> None:
    domain = domain_from_yaml('version: "3.1"\nintents: [greet, csat]\n')
    written = UserUttered(text="дякую", parse_data=ParseData(text="дякую", language="uk"))
    asked = csat_question(
        tracker(domain, written), domain, ResponseRenderer(domain), "telegram", agent_id=None
    )
    message = asked[1]
    assert isinstance(message, BotUttered) and message.text is not None
    assert message.text.startswith("Наскільки ви задоволені")
    assert [b["title"] for b in message.data["buttons"]][-1] == "5 Чудово"
    russian = UserUttered(text="спасибо", parse_data=ParseData(text="спасибо", language="ru"))
    asked = csat_question(
        tracker(domain, russian), domain, ResponseRenderer(domain), "telegram", agent_id=None
    )
    message = asked[1]
    assert isinstance(message, BotUttered) and message.text is not None
    assert message.text.startswith("Насколько вы довольны")  # not English for a Russian client
    assert [b["title"] for b in message.data["buttons"]][-1] == "5 Отлично"


async def test_the_score_is_recorded_once_with_the_agent_and_the_client_thanked(demo_domain: Domain) -> None:
    nlg = ResponseRenderer(demo_domain)
    action = ActionRecordCsat()
    asked = CsatRequested(agent_id="anna.kowalska")
    first = await action.run(
        tracker(demo_domain, SlotSet(name="language", value="uk"), asked, tap(4, "uk")),
        demo_domain,
        nlg,
        "widget",
    )
    recorded = [e for e in first if isinstance(e, CsatRecorded)]
    assert [(r.score, r.agent_id) for r in recorded] == [(4, "anna.kowalska")]
    thanks = [e.text for e in first if isinstance(e, BotUttered)]
    assert thanks == ["Дякуємо за відгук! Він допомагає нам краще про вас дбати."]

    again = await action.run(
        tracker(demo_domain, asked, tap(4), *recorded, tap(1)), demo_domain, nlg, "widget"
    )  # an old button pressed later: thanked, not counted twice
    assert not any(isinstance(e, CsatRecorded) for e in again)
    assert [e.text for e in again if isinstance(e, BotUttered)] == [
        "Thank you for your feedback! It helps us look after you better."
    ]


async def test_a_message_without_a_usable_score_changes_nothing(demo_domain: Domain) -> None:
    broken = UserUttered(
        text='/csat{"score":9}',
        parse_data=ParseData(
            intent=IntentPrediction(name="csat"), entities=[EntityValue(entity="score", value=9)]
        ),
    )
    events = await ActionRecordCsat().run(
        tracker(demo_domain, CsatRequested(), broken), demo_domain, ResponseRenderer(demo_domain), "widget"
    )
    assert events == []
