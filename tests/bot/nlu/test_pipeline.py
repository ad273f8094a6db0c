"""The whole NLU pipeline on a small salon bot: what the dialogue layer receives for real messages."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain import Domain, EntityDef, IntentDef, ResponseVariation
from bot.errors import ConfigError
from bot.nlu.bounds import MAX_UNDERSTOOD_CHARS
from bot.nlu.pipeline import NLUPipeline
from bot.training_data import NLUData

from .helpers import salon_config, salon_data

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> NLUData:
    return salon_data(tmp_path_factory.mktemp("salon"))


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain(
        intents=[
            IntentDef(name=n)
            for n in [
                "greet",
                "goodbye",
                "thank",
                "book_appointment",
                "cancel_appointment",
                "ask_price",
                "faq",
            ]
        ],
        entities=[EntityDef(name="service")],
        responses={
            "utter_faq/ask_hours": [ResponseVariation(text="We are open 9:00-20:00, Monday to Saturday.")],
            "utter_faq/ask_location": [ResponseVariation(text="ul. Mokotowska 1, Warsaw.")],
            "utter_faq/ask_parking": [ResponseVariation(text="Free parking behind the studio.")],
        },
    )


@pytest.fixture(scope="module")
def pipeline(data: NLUData, domain: Domain) -> NLUPipeline:
    return NLUPipeline.train(data, salon_config(), domain)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("could you book me in for a pedicure on monday?", "book_appointment"),
        ("how much for a massage?", "ask_price"),
        ("I have to cancel my reservation", "cancel_appointment"),
        ("thanks so much!", "thank"),
        ("ok bye then", "goodbye"),
        ("helo there", "greet"),  # a typo still greets
        ("is there somewhere to park?", "faq"),
    ],
)
def test_paraphrases_get_their_intent(pipeline: NLUPipeline, text: str, intent: str) -> None:
    parse = pipeline.parse(text)
    assert parse.intent.name == intent
    assert parse.intent.confidence > 0.6
    assert parse.text == text


def test_nonsense_is_unsure_and_falls_back(pipeline: NLUPipeline) -> None:
    real = pipeline.parse("I want to book a manicure")
    nonsense = pipeline.parse("qwxz plorf zzyzx")
    assert nonsense.intent.name == "nlu_fallback"
    # The fallback keeps the classifier's own (low) guesses after it.
    assert nonsense.intent_ranking[1].confidence < 0.4 < real.intent.confidence
    assert real.intent.name == "book_appointment"


def test_ranking_is_a_sorted_probability_list(pipeline: NLUPipeline) -> None:
    parse = pipeline.parse("what does a facial cost?")
    confidences = [r.confidence for r in parse.intent_ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert len(parse.intent_ranking) == 7  # every intent, fewer than Rasa's limit of 10
    assert sum(confidences) == pytest.approx(1.0)
    assert parse.intent_ranking[0].name == parse.intent.name == "ask_price"


def test_retrieval_intent_selects_the_full_response_key(pipeline: NLUPipeline) -> None:
    parse = pipeline.parse("when do you open on saturday?")
    assert parse.intent.name == "faq"
    selector = parse.response_selector
    assert selector is not None
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["faq"]["response"]
    assert response["intent_response_key"] == "faq/ask_hours"
    assert response["utter_action"] == "utter_faq/ask_hours"
    assert response["responses"] == [{"text": "We are open 9:00-20:00, Monday to Saturday."}]
    assert response["confidence"] > 0.5
    assert selector["default"]["response"]["intent_response_key"] == "faq/ask_hours"
    ranking = selector["faq"]["ranking"]
    assert {r["intent_response_key"] for r in ranking} == {
        "faq/ask_hours",
        "faq/ask_location",
        "faq/ask_parking",
    }


def test_entities_from_lookup_synonyms_and_duckling(pipeline: NLUPipeline) -> None:
    text = "I want to book gel nails tomorrow at 3pm, my email is anna@example.com"
    parse = pipeline.parse(text, reference_time=NOW)
    by_type = {e.entity: e for e in parse.entities}
    assert set(by_type) == {"service", "time", "email"}
    service = by_type["service"]
    assert (service.value, text[service.start : service.end]) == ("manicure", "gel nails")  # synonym applied
    assert service.extractor == "RegexEntityExtractor"
    assert by_type["time"].value == "2026-11-25T15:00:00.000+00:00"
    assert by_type["time"].model_extra["additional_info"]["grain"] == "hour"
    assert by_type["email"].value == "anna@example.com"


def test_a_huge_message_is_understood_from_its_window(pipeline: NLUPipeline) -> None:
    """A request followed by 150k characters of junk: the request is still understood,
    entity offsets point into the message, and the whole text is kept."""
    request = "I want to book gel nails tomorrow at 3pm "
    text = request + "z" * 150_000 + " manicure " * 1000
    parse = pipeline.parse(text, reference_time=NOW)
    assert parse.text == text
    assert parse.intent.name == "book_appointment"
    service = next(e for e in parse.entities if e.entity == "service")
    assert text[service.start : service.end] == "gel nails"
    assert all((e.end or 0) <= MAX_UNDERSTOOD_CHARS for e in parse.entities)


def test_one_enormous_word_is_unsure_not_an_error(pipeline: NLUPipeline) -> None:
    parse = pipeline.parse("a" * 150_000)
    assert parse.intent.name == "nlu_fallback"
    assert parse.entities == []


def test_detects_polish_and_ukrainian(pipeline: NLUPipeline) -> None:
    assert pipeline.parse("Dzień dobry, chciałabym umówić wizytę na manicure").language == "pl"
    assert pipeline.parse("Добрий день, скільки коштує педикюр у вашому салоні?").language == "uk"
    assert pipeline.parse("Hello, when are you open tomorrow?").language == "en"
    assert pipeline.parse("ok").language == "en"  # too short to tell: the bot's language


def test_payloads_bypass_the_classifier(pipeline: NLUPipeline) -> None:
    parse = pipeline.parse('/book_appointment{"service": "manicure"}')
    assert parse.intent.name == "book_appointment"
    assert parse.intent.confidence == 1.0
    assert [(e.entity, e.value) for e in parse.entities] == [("service", "manicure")]
    faq = pipeline.parse("/faq/ask_parking")
    assert faq.intent.name == "faq"
    assert faq.response_selector["faq"]["response"]["intent_response_key"] == "faq/ask_parking"
    assert faq.response_selector["faq"]["response"]["responses"] == [
        {"text": "Free parking behind the studio."}
    ]
    # An intent the bot does not know is just text.
    assert pipeline.parse("/fly_to_the_moon").intent.name != "fly_to_the_moon"


def test_empty_message_has_no_intent(pipeline: NLUPipeline) -> None:
    parse = pipeline.parse("   ")
    assert parse.intent.name is None
    assert parse.intent_ranking == []


def test_batch_equals_single_parses(pipeline: NLUPipeline) -> None:
    texts = ["hi", "how much is a haircut?", "/thank", "cancel my visit on friday"]
    batch = pipeline.parse_batch(texts, reference_time=NOW)
    assert [b.model_dump() for b in batch] == [
        pipeline.parse(t, reference_time=NOW).model_dump() for t in texts
    ]


def test_parse_is_thread_safe(pipeline: NLUPipeline) -> None:
    texts = ["book a massage for saturday at 10:30", "where is the salon", "bye", "price of a pedicure"] * 10
    expected = [pipeline.parse(t, reference_time=NOW).model_dump() for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda t: pipeline.parse(t, reference_time=NOW).model_dump(), texts))
    assert got == expected


def test_save_and_load_give_identical_parses(pipeline: NLUPipeline, tmp_path: Path) -> None:
    pipeline.save(tmp_path / "nlu")
    meta = json.loads((tmp_path / "nlu" / "meta.json").read_text())
    assert meta["embeddings"] == "static"
    loaded = NLUPipeline.load(tmp_path / "nlu")
    texts = [
        "I'd like a manicure tomorrow at 3pm",
        "qwxz",
        "what are your opening hours?",
        "/cancel_appointment",
        "Dzień dobry",
        "thanks!",
    ]
    assert [loaded.parse(t, reference_time=NOW).model_dump() for t in texts] == [
        pipeline.parse(t, reference_time=NOW).model_dump() for t in texts
    ]


def test_load_reuses_a_matching_encoder(pipeline: NLUPipeline, tmp_path: Path) -> None:
    pipeline.save(tmp_path / "nlu")
    assert NLUPipeline.load(tmp_path / "nlu", encoder=pipeline.encoder).encoder is pipeline.encoder


def test_fallback_threshold_keeps_the_ranking(data: NLUData) -> None:
    strict = salon_config()
    fallback = next(c for c in strict.pipeline if c.name == "FallbackClassifier")
    fallback.params = {"threshold": 0.999999, "ambiguity_threshold": 0.1}
    pipeline = NLUPipeline.train(data, strict)
    parse = pipeline.parse("how much is a pedicure?")
    assert parse.intent.name == "nlu_fallback"
    assert parse.intent.confidence == 0.999999
    assert parse.intent_ranking[0].name == "nlu_fallback"
    assert parse.intent_ranking[1].name == "ask_price"


def test_training_without_examples_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no NLU training examples"):
        NLUPipeline.train(NLUData(), salon_config())


def test_load_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no NLU model"):
        NLUPipeline.load(tmp_path)


def test_similarity_weight_lowers_the_confidence_of_a_message_unlike_any_intent(data: NLUData) -> None:
    plain = NLUPipeline.train(data, salon_config(similarity_weight=0))
    typical = NLUPipeline.train(data, salon_config(similarity_weight=10), encoder=plain.encoder)
    assert plain.model.intents.typicality is None and typical.model.intents.typicality is not None
    question = "the weather in peru is rainy"
    before, after = plain.parse(question), typical.parse(question)
    assert after.intent_ranking[-1].confidence <= before.intent_ranking[-1].confidence
    assert after.intent.name == "nlu_fallback"
    assert sum(i.confidence for i in after.intent_ranking[1:]) < 0.9
    # A message like the training examples keeps its intent.
    assert typical.parse("can I book a manicure for friday?").intent.name == "book_appointment"
