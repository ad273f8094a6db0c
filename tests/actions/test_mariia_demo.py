"""The Mariia Hub demo bot as a whole: its Rasa project files loaded by our loader, and the
bot trained from this repository answering clients through the engine (test_mariia.py
tests the custom actions one by one)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.bookings import BookingRepository
from actions.mariia_catalog import STUDIO_TZ
from actions.registry import discover_actions
from bot.domain import Domain
from bot.events import HandoffRequested
from bot.loaders import Project, load_nlu, load_project

REPO = Path(__file__).resolve().parents[2]
MY_FILES = (
    "domain.yml",
    "config.yml",
    "endpoints.yml",
    "data/nlu/",
    "data/rules.yml",
    "data/stories.yml",
    "tests/test_stories.yml",
    "tests/test_stories_everyday.yml",
)


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO)


@pytest.fixture(scope="module")
def domain(project: Project) -> Domain:
    return project.domain


@pytest.fixture
def bookings_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'bookings.db'}"
    monkeypatch.setenv("CONCIERGE_BOOKINGS_URL", url)
    return url


def upcoming(weekday: int, hour: int, minute: int = 0) -> datetime:
    """The next ``weekday`` (0 = Monday) at least two days from now, at hour:minute studio time."""
    today = datetime.now(STUDIO_TZ).date()
    days = (weekday - today.weekday()) % 7
    days += 7 if days < 2 else 0
    return datetime.combine(today + timedelta(days=days), time(hour, minute), STUDIO_TZ)


# ---- the project files --------------------------------------------------------------------


def test_demo_project_loads_without_warnings_about_its_files(project: Project) -> None:
    ours = [w for w in project.warnings if any(f in w for f in MY_FILES) and ": info: " not in w]
    assert ours == []
    assert not [w for w in project.warnings if "unknown" in w or "not supported" in w]
    assert project.config.languages == ["pl", "uk", "ru"]
    assert project.endpoints.action_endpoint is not None
    assert project.endpoints.action_endpoint.actions_module == "actions.mariia"


def test_domain_has_the_forms_slots_and_responses_the_flows_need(domain: Domain) -> None:
    assert {name: f.required_slots for name, f in domain.forms.items()} == {
        "booking_form": ["service", "location", "time"],
        "cancel_form": ["booking_reference"],
        "reschedule_form": ["booking_reference", "new_time"],
    }
    for form in domain.forms.values():
        for slot in form.required_slots:
            assert f"utter_ask_{slot}" in domain.responses
    # FAQ answers are knowledge articles naming the response selector's keys, not responses
    # (tests/knowledge/test_routing.py checks every key has its article)
    assert domain.retrieval_intents == []
    assert not [name for name in domain.responses if name.startswith("utter_faq/")]
    conditioned = {c.name for v in domain.responses["utter_ask_time"] for c in v.condition}
    assert conditioned == {"language", "location"}
    assert domain.session_config.session_expiration_time == 60
    assert domain.session_config.carry_over_slots_to_new_session


def test_custom_actions_in_the_domain_are_exactly_those_of_the_actions_file(domain: Domain) -> None:
    # action_answer_from_knowledge (knowledge/) and action_record_csat (actions/csat.py) are built
    # by the engine itself, not by actions.mariia
    engine_built = ["action_answer_from_knowledge", "action_record_csat"]
    assert sorted([*discover_actions(["actions.mariia"]), *engine_built]) == sorted(domain.actions)


def test_every_response_the_actions_use_exists_in_four_languages(domain: Domain) -> None:
    source = "".join(
        (REPO / "actions" / f"{name}.py").read_text() for name in ("mariia", "mariia_base", "mariia_text")
    )
    used = set(re.findall(r'"(utter_[a-z_]+)"', source))
    assert len(used) > 25
    for name in sorted(used):
        languages = {c.value for v in domain.responses[name] for c in v.condition if c.name == "language"}
        assert languages >= {"pl", "uk", "ru"}, name


def test_polish_ukrainian_and_russian_examples_cover_the_key_intents() -> None:
    key = [
        "greet",
        "ask_prices",
        "ask_opening_hours",
        "book_appointment",
        "cancel_appointment",
        "complaint",
        "request_human",
        "thank",
        "goodbye",
    ]
    for language in ("pl", "uk", "ru"):
        examples = load_nlu([REPO / "data" / "nlu" / f"{language}.yml"]).examples
        for intent in key:
            assert sum(e.intent == intent for e in examples) >= 8, (language, intent)


def test_test_stories_are_paraphrases_not_training_examples(project: Project) -> None:
    training = {e.text.casefold() for e in project.nlu.examples}
    lines = [
        s.text for story in project.test_stories.stories for s in story.steps if getattr(s, "text", None)
    ]
    assert len(project.test_stories.stories) >= 15 and len(lines) >= 40
    assert [line for line in lines if line.casefold() in training] == []


# ---- the demo bot end to end: trained from this repository, answering through the engine ----


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bot trained once for these tests."""
    from bot.agent import Agent

    model_dir = tmp_path_factory.mktemp("mariia_model") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        Agent.load_or_train(REPO, model_dir)
    return model_dir


@pytest.fixture
async def demo_engine(demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bookings_db: str):
    from bot.settings import Settings
    from concierge.compose import build_engine

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    engine = await build_engine(Settings(project_dir=REPO, model_dir=demo_model, state_dir=tmp_path))
    yield engine
    await engine.close()


async def chat(engine: Any, sender: str, text: str) -> list[str]:
    """What the client reads after sending ``text``."""
    from bot.models import InboundMessage

    replies = await engine.handle(InboundMessage(channel="test", sender_id=sender, text=text))
    return [r.text or "" for r in replies]


async def test_demo_books_an_appointment_step_by_step(demo_engine: Any) -> None:
    day = upcoming(3, 11)  # a Thursday at least two days ahead
    assert await chat(demo_engine, "ola", "I'd like to book a gel manicure") == [
        "Which studio suits you best?"
    ]
    asked = await chat(demo_engine, "ola", "Mokotów")
    assert asked == [
        "When would you like to come? Mokotów is open Mon–Fri 8:00–21:00, Sat 9:00–19:00 and Sun 10:00–17:00."
    ]
    booked = await chat(demo_engine, "ola", f"{day:%-d %B} at 11am")
    assert booked[0].startswith("You're booked! gel manicure at Warsaw Mokotów")
    assert f"on Thursday {day.day} {day:%B} at 11:00, 190 PLN" in booked[0]
    reference = re.search(r"MH-\d{5}", booked[0])
    assert reference is not None

    async with BookingRepository() as repo:
        stored = await repo.get(reference.group())
    assert stored is not None and stored.local_start == day and stored.sender_id == "ola"


async def test_demo_cancels_a_booking_after_confirmation(demo_engine: Any) -> None:
    confirm = await chat(demo_engine, "kasia", "please cancel MH-10001")
    assert confirm[0].startswith("I found MH-10001: relaxing massage (60 min) at Warsaw Mokotów")
    done = await chat(demo_engine, "kasia", "yes")
    assert done[0].startswith("Done: MH-10001") and "free of charge" in done[0]

    async with BookingRepository() as repo:
        stored = await repo.get("MH-10001")
    assert stored is not None and stored.status == "cancelled"


async def test_demo_complaint_ends_in_a_handoff_request(demo_engine: Any) -> None:
    apology = await chat(demo_engine, "marta", "my balayage looks awful")
    assert apology[0].startswith("I'm truly sorry to hear that")
    handoff = await chat(demo_engine, "marta", "yes please")
    assert handoff[0].startswith("Of course. I'm passing our conversation to a member of the Mariia Hub team")
    stored = await demo_engine.store.events("test:marta")
    assert [(e.reason, e.detail) for e in stored if isinstance(e, HandoffRequested)] == [
        ("client_request", "complaint")
    ]


async def test_demo_answers_in_polish_and_ukrainian(demo_engine: Any) -> None:
    assert (await chat(demo_engine, "pl", "dzień dobry"))[0].startswith("Dzień dobry, witamy w Mariia Hub!")
    assert await chat(demo_engine, "pl", "ile kosztuje manicure hybrydowy?") == [
        "manicure hybrydowy: 190 zł, ok. 60 min."
    ]
    assert (await chat(demo_engine, "uk", "добрий день"))[0].startswith("Вітаємо в Mariia Hub!")
    human = await chat(demo_engine, "uk", "хочу поговорити з людиною")
    assert human[0].startswith("Звісно. Передаю розмову комусь із команди Mariia Hub")


async def test_demo_faq_out_of_scope_and_fallback(demo_engine: Any, domain: Domain) -> None:
    parking = await chat(demo_engine, "jan", "is there parking in Kraków?")
    assert parking[0].startswith("Mokotów has an underground garage with 2 hours free")
    weather = await chat(demo_engine, "jan", "what is the weather tomorrow")
    assert weather[0] in {v.text for v in domain.responses["utter_out_of_scope"] if not v.condition}
    nonsense = await chat(demo_engine, "jan", "asdkjh qwe")
    # a fallback asks the knowledge base first; with no answer there, the client hears so honestly
    assert nonsense[0].startswith("I'm sorry, I don't know the answer to that")


async def test_demo_answers_what_the_dialogue_does_not_cover_from_the_knowledge_base(
    demo_engine: Any,
) -> None:
    from bot.events import BotUttered
    from bot.models import InboundMessage

    reply = await chat(demo_engine, "kim", "do you have reformer pilates classes?")
    assert len(reply) == 1
    # the answer comes from the article, and says where it comes from
    assert "95 PLN" in reply[0]
    assert reply[0].endswith("Source: Reformer pilates classes")
    said = [e for e in await demo_engine.store.events("test:kim") if isinstance(e, BotUttered)]
    assert said[-1].metadata["knowledge"]["sources"][0]["article_id"] == "pilates-reformer-classes"
    # what the guides do not cover gets an honest "not sure" and a way to a person
    unknown = await demo_engine.handle(InboundMessage(channel="test", sender_id="kim", text="asdkjh qwe"))
    assert unknown[0].text is not None and unknown[0].text.startswith("I'm sorry, I don't know")
    assert [b.payload for b in unknown[0].buttons] == ["/request_human"]


# ---- everyday turns the demo once misread (issue 17) ----------------------------------------


async def handoffs(engine: Any, sender: str) -> list[tuple[str, str | None]]:
    return [
        (e.reason, e.detail)
        for e in await engine.store.events(f"test:{sender}")
        if isinstance(e, HandoffRequested)
    ]


async def test_demo_everyday_turns_never_hand_off_by_mistake(demo_engine: Any, domain: Domain) -> None:
    noted = {v.text for v in domain.responses["utter_noted"]}
    noted_en = {v.text for v in domain.responses["utter_noted"] if not v.condition}
    acknowledged = {v.text for v in domain.responses["utter_acknowledge"] if not v.condition}
    goodbye = {v.text for v in domain.responses["utter_goodbye"]}
    # a bare "yes" when nothing was asked, first thing or after the greeting
    assert (await chat(demo_engine, "yes1", "yes"))[0] in acknowledged
    await chat(demo_engine, "yes2", "hello")
    assert (await chat(demo_engine, "yes2", "yes"))[0] in acknowledged
    # a name and a phone number are details, never a goodbye or an FAQ article; the
    # surname does not make the reply Polish
    assert (await chat(demo_engine, "name", "my name is Anna Kowalska"))[0] in noted_en
    phone = await chat(demo_engine, "name", "+48 600 100 200")
    assert phone[0] in noted and not set(phone) & goodbye
    # two blank messages are not two failures to understand
    await chat(demo_engine, "blank", " ")
    await chat(demo_engine, "blank", "   ")
    # a bare name the bot never saw, in any of its languages, is an answer too
    for name in ("Zofia", "Bartholomew", "Oksana", "Zofia Wiśniewska", "Ludmiła", "Оксана", "Богдан"):
        reply = await chat(demo_engine, "bare", name)
        assert reply[0] in noted and not set(reply) & goodbye, name
    for sender in ("yes1", "yes2", "name", "blank", "bare"):
        assert await handoffs(demo_engine, sender) == [], sender


async def test_demo_keeps_the_clients_language_whatever_their_name(demo_engine: Any, domain: Domain) -> None:
    def noted(language: str | None) -> str:
        return next(
            v.text
            for v in domain.responses["utter_noted"]
            if [c.value for c in v.condition if c.name == "language"] == ([language] if language else [])
        )

    assert await chat(demo_engine, "en-name", "my name is Katarzyna Wójcik") == [noted(None)]
    assert await chat(demo_engine, "pl-name", "nazywam się Oksana Melnyk") == [noted("pl")]
    assert await chat(demo_engine, "uk-name", "мене звати Ольга Смирнова") == [noted("uk")]
    assert await chat(demo_engine, "ru-name", "меня зовут Ирина Коваль") == [noted("ru")]


async def test_demo_escalates_rising_anger_of_a_standard_client(demo_engine: Any) -> None:
    apology = await chat(demo_engine, "angry", "you are ripping people off")
    assert apology[0].startswith("I'm truly sorry to hear that")
    await chat(demo_engine, "angry", "no")
    await chat(demo_engine, "angry", "this is the worst studio in Warsaw, I am furious")
    assert [reason for reason, _ in await handoffs(demo_engine, "angry")] == ["sentiment"]


async def test_demo_answers_in_russian(demo_engine: Any) -> None:
    hours = await chat(demo_engine, "ru", "Какие у вас часы работы?")
    assert hours[0].startswith("Наши часы работы:")
    greeting = await chat(demo_engine, "ru2", "добрый день, подскажите пожалуйста")
    assert greeting[0].startswith("Добро пожаловать в Mariia Hub!")
