"""The trained state: vocabularies derived from data and domain."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig
from bot.domain import Domain, EntityDef, IntentDef, ResponseVariation
from bot.nlu.pipeline import NLUPipeline
from bot.training_data import NLUData

from .helpers import salon_data


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> NLUData:
    return salon_data(tmp_path_factory.mktemp("salon"))


def test_without_a_domain_payload_entities_are_not_checked(data: NLUData) -> None:
    model = NLUPipeline.train(data, BotConfig(), None).model
    assert model.known_entities is None
    assert {"greet", "faq", "restart", "nlu_fallback"} <= set(model.known_intents)
    assert model.retrieval_intents == ["faq"]
    assert model.entity_names == ["service"]
    assert model.synonyms["gel nails"] == "manicure"


def test_domain_adds_entities_and_retrieval_responses(data: NLUData, tmp_path: Path) -> None:
    domain = Domain(
        intents=[IntentDef(name="greet"), IntentDef(name="faq")],
        entities=[EntityDef(name="service"), EntityDef(name="booking_ref")],
        responses={
            "utter_faq/ask_hours": [ResponseVariation(text="9-20")],
            "utter_greet": [ResponseVariation(text="Hi")],
        },
    )
    pipeline = NLUPipeline.train(data, BotConfig(), domain)
    model = pipeline.model
    assert model.known_entities == ["booking_ref", "service"]
    assert model.responses == {"utter_faq/ask_hours": [{"text": "9-20"}]}
    # The regex named like a domain entity now extracts it.
    parse = pipeline.parse("my booking is MH-123456")
    assert [(e.entity, e.value, e.extractor) for e in parse.entities] == [
        ("booking_ref", "MH-123456", "RegexEntityExtractor")
    ]
