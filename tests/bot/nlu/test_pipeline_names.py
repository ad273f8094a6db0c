"""Names in the whole pipeline: a bare unfamiliar name is an answer, and a name never
decides the intent nor the language of the sentence around it (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig
from bot.domain import Domain, EntityDef, IntentDef
from bot.loaders import load_nlu
from bot.nlu.pipeline import NLUPipeline

from .helpers import SALON_NLU, salon_config

# The salon bot plus answers with names, goodbyes that look like names ("ciao") and Russian.
NAMES_NLU = (
    SALON_NLU
    + """
- intent: inform
  examples: |
    - my name is [Marta Nowak](client_name)
    - I'm [Olena](client_name)
    - [Kasia](client_name)
    - [Iryna Shevchenko](client_name)
    - [Piotr](client_name) here
    - nazywam się [Ewa Lewandowska](client_name)
    - jestem [Agnieszka](client_name)
    - мене звати [Ірина](client_name)
    - [Юлія](client_name)
    - меня зовут [Наталья](client_name)
    - [Мария Петрова](client_name)
    - a [manicure](service) please
    - tomorrow at 3pm
    - on Friday
- intent: goodbye
  examples: |
    - ciao
    - ciao ciao
    - cya
    - farewell
    - до свидания
    - пока
- intent: greet
  examples: |
    - здравствуйте
    - добрый день
- intent: thank
  examples: |
    - спасибо
    - большое спасибо
"""
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> NLUPipeline:
    path = tmp_path_factory.mktemp("names") / "nlu.yml"
    path.write_text(NAMES_NLU, encoding="utf-8")
    config: BotConfig = salon_config().model_copy(update={"languages": ["pl", "uk", "ru"]})
    domain = Domain(
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
                "inform",
            ]
        ],
        entities=[EntityDef(name="service"), EntityDef(name="client_name")],
    )
    return NLUPipeline.train(load_nlu([path]), config, domain)


@pytest.mark.parametrize(
    "name", ["Zofia", "Bartholomew", "Oksana", "Ludmila", "Wojciech", "Zofia Wiśniewska", "Богдан", "Варвара"]
)
def test_a_bare_unfamiliar_name_is_an_answer_with_the_name(pipeline: NLUPipeline, name: str) -> None:
    parse = pipeline.parse(name)
    assert parse.intent.name == "inform"
    assert [(e.entity, e.value) for e in parse.entities] == [("client_name", name)]


def test_a_name_does_not_decide_the_intent_around_it(pipeline: NLUPipeline) -> None:
    assert pipeline.parse("Piotr Zieliński here").intent.name == "inform"
    assert pipeline.parse("bye").intent.name == "goodbye"  # words the bot knows keep their meaning
    assert pipeline.parse("Ciao").entities == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("my name is Anna Kowalska", "en"),
        ("Hi, I'm Katarzyna Wójcik and I want to book a manicure", "en"),
        ("my name is Oleksandra Kovalenko", "en"),
        ("nazywam się John Smith", "pl"),
        ("мене звати Ольга Смирнова", "uk"),
        ("меня зовут Олена Петренко, хочу записаться на стрижку", "ru"),
        ("Оксана", "ru"),  # nothing but a name: its script still tells Cyrillic
    ],
)
def test_a_name_does_not_decide_the_language(pipeline: NLUPipeline, text: str, language: str) -> None:
    parse = pipeline.parse(text)
    assert parse.language == language
    assert any(e.entity == "client_name" for e in parse.entities)


def test_names_survive_save_and_load(pipeline: NLUPipeline, tmp_path: Path) -> None:
    pipeline.save(tmp_path / "model")
    loaded = NLUPipeline.load(tmp_path / "model", encoder=pipeline.encoder)
    for text in ("Bartholomew", "my name is Anna Kowalska"):
        assert loaded.parse(text) == pipeline.parse(text)
