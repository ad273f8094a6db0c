"""The Mariia Hub demo bot's custom actions (actions/mariia.py): run through the sdk API as an
action server would, through the bot's action registry, and served by the real rasa-sdk
action server. The project files and the trained bot are tested in test_mariia_demo.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from action_testkit import Conversation, rasa_sdk_server, texts, user_message

from actions import sdk
from actions.base import message_event
from actions.mariia import (
    ActionAskBookingFormService,
    ActionAskBookingFormTime,
    ActionBookAppointment,
    ActionCancelAppointment,
    ActionConfirmCancellation,
    ActionRescheduleAppointment,
    ActionShowOpeningHours,
    ActionShowPrices,
    ValidateBookingForm,
    ValidateCancelForm,
    ValidateRescheduleForm,
    ValidateSlotMappings,
)
from actions.mariia_catalog import STUDIO_TZ
from actions.mariia_text import format_day
from actions.registry import ActionRegistry
from actions.remote import domain_as_rasa_dict
from bot.domain import REQUESTED_SLOT, Domain
from bot.events import (
    ActionExecuted,
    BotUttered,
    EntityValue,
    Event,
    HandoffRequested,
    IntentPrediction,
    ParseData,
    SlotSet,
    UserUttered,
)
from bot.loaders import Project, load_project
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

REPO = Path(__file__).resolve().parents[2]


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


def iso(moment: datetime) -> str:
    """A time as the Duckling extractor gives it."""
    return moment.isoformat(timespec="milliseconds")


class Run:
    """One sdk-style action run: the returned events and what the client reads."""

    def __init__(self, events: list[dict[str, Any]], messages: list[BotUttered]) -> None:
        self.events = events
        self.messages = messages

    @property
    def texts(self) -> list[str]:
        return [m.text or "" for m in self.messages]

    @property
    def buttons(self) -> list[str]:
        return [b["payload"] for m in self.messages for b in m.data.get("buttons") or []]

    def slots(self) -> dict[str, Any]:
        return {e["name"]: e["value"] for e in self.events if e.get("event") == "slot"}


async def run_sdk(
    action: sdk.Action,
    domain: Domain,
    *,
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    language: str | None = None,
    candidates: dict[str, Any] | None = None,
) -> Run:
    """Run ``action`` exactly as an action server would: an sdk tracker built from the bot's
    tracker state, a dispatcher and the domain dict. Slot ``candidates`` come last, where
    form validation actions look for them. Messages are rendered with the domain's responses."""
    parse = ParseData(
        text=text,
        intent=IntentPrediction(name=intent),
        entities=[EntityValue(**e) for e in entities or []],
        intent_ranking=[IntentPrediction(name=intent)],
        language=language,
    )
    events: list[Event] = [ActionExecuted(name="action_listen")]
    events += [SlotSet(name=k, value=v) for k, v in (slots or {}).items()]
    events += [UserUttered(text=text, parse_data=parse)]
    events += [SlotSet(name=k, value=v) for k, v in (candidates or {}).items()]
    tracker = Tracker.for_domain("client-1", domain, events)
    dispatcher = sdk.CollectingDispatcher()
    result = await action.run(
        dispatcher, sdk.Tracker.from_dict(tracker.current_state()), domain_as_rasa_dict(domain)
    )
    nlg = ResponseRenderer(domain, seed=3)
    rendered = [message_event(m, tracker, nlg, "rest") for m in dispatcher.messages]
    assert all(r is not None for r in rendered), f"a message could not be rendered: {dispatcher.messages}"
    return Run(list(result), [r for r in rendered if r is not None])


# ---- the booking form ------------------------------------------------------------------


async def test_form_accepts_what_clients_write_and_stores_canonical_keys(domain: Domain) -> None:
    start = upcoming(2, 12)  # a Wednesday noon
    run = await run_sdk(
        ValidateBookingForm(),
        domain,
        candidates={"service": "gel nails", "location": "na Mokotowie", "time": iso(start)},
    )
    assert run.slots() == {
        "service": "manicure_gel",
        "location": "warsaw_mokotow",
        "time": start.isoformat(),
        "booking_date": None,
    }
    assert run.texts == []


async def test_form_explains_closed_days_and_closing_time(domain: Domain) -> None:
    sunday = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"service": "massage_relaxing", "location": "warsaw_srodmiescie"},
        candidates={"time": iso(upcoming(6, 12))},
    )
    assert sunday.slots() == {"time": None, "booking_date": None}
    assert sunday.texts[0].startswith("Warsaw Śródmieście is closed on Sunday")

    late = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"service": "massage_relaxing", "location": "krakow_kazimierz"},
        candidates={"time": iso(upcoming(1, 19, 30))},  # Tuesday 19:30, closes at 20:00
    )
    assert late.slots() == {"time": None, "booking_date": None}
    assert "open 9:00–20:00" in late.texts[0] and "the latest start is 19:00" in late.texts[0]


async def test_a_studio_chosen_after_the_time_is_checked_against_that_time(domain: Domain) -> None:
    sunday_noon = upcoming(6, 12)
    run = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"service": "massage_relaxing", "time": sunday_noon.isoformat()},
        candidates={"location": "warsaw_srodmiescie"},
    )
    assert run.slots() == {"location": "warsaw_srodmiescie", "time": None}
    assert run.texts == [f"Warsaw Śródmieście is closed on {format_day(sunday_noon, 'en')}, I'm afraid."]


async def test_a_day_without_an_hour_is_kept_until_the_hour_comes(domain: Domain) -> None:
    friday = upcoming(4, 0)
    day = await run_sdk(
        ValidateBookingForm(), domain, slots={"location": "warsaw_mokotow"}, candidates={"time": iso(friday)}
    )
    assert day.slots() == {"time": None, "booking_date": friday.date().isoformat()}
    assert day.texts == []  # the ask action asks, once
    asked = await run_sdk(
        ActionAskBookingFormTime(),
        domain,
        slots={"location": "warsaw_mokotow", "booking_date": str(friday.date())},
    )
    assert asked.texts == [
        f"What time on Friday {friday.day} {friday:%B} would suit you? "
        "Warsaw Mokotów is open 8:00–21:00 that day."
    ]
    # "at 11" alone: the extractor dates it today or tomorrow; the agreed Friday wins.
    tomorrow_11 = datetime.combine(datetime.now(STUDIO_TZ).date() + timedelta(days=1), time(11), STUDIO_TZ)
    hour = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"location": "warsaw_mokotow", "booking_date": str(friday.date())},
        text="at 11",
        candidates={"time": iso(tomorrow_11)},
    )
    assert hour.slots() == {"time": friday.replace(hour=11).isoformat(), "booking_date": None}


async def test_an_hour_the_extractor_missed_is_read_from_the_text(domain: Domain) -> None:
    thursday = upcoming(3, 0)
    run = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"service": "blow_dry", "location": "krakow_kazimierz"},
        text="w czwartek o 15",
        candidates={"time": iso(thursday)},  # the day only, as the extractor reads "o 15"
    )
    assert run.slots() == {"time": thursday.replace(hour=15).isoformat(), "booking_date": None}


async def test_a_day_that_contradicts_the_message_is_asked_again(domain: Domain) -> None:
    tuesday = upcoming(1, 0)  # what a faulty extraction made of "sunday at 12"
    run = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"location": "warsaw_mokotow"},
        text="sunday at 12",
        candidates={"time": iso(tuesday)},
    )
    assert run.slots() == {"time": None}
    assert run.texts == ["Sorry, I didn't catch the date and time."]


async def test_form_refuses_times_in_the_past(domain: Domain) -> None:
    yesterday = datetime.now(STUDIO_TZ) - timedelta(days=1)
    run = await run_sdk(ValidateBookingForm(), domain, candidates={"time": iso(yesterday)})
    assert run.slots() == {"time": None, "booking_date": None}
    assert "already passed" in run.texts[0]


async def test_a_category_is_answered_with_its_services_as_buttons(domain: Domain) -> None:
    run = await run_sdk(ValidateBookingForm(), domain, candidates={"service": "nails"})
    assert run.slots() == {"service": None} and run.texts == []
    asked = await run_sdk(
        ActionAskBookingFormService(),
        domain,
        text="my nails",
        entities=[{"entity": "service", "value": "nails"}],
    )
    assert asked.texts == ["Which of our nails treatments would you like?"]
    assert '/inform{"service":"manicure_gel"}' in asked.buttons
    titles = [b["title"] for m in asked.messages for b in m.data["buttons"]]
    assert "gel manicure · 190 PLN" in titles
    plain = await run_sdk(ActionAskBookingFormService(), domain, text="I'd like to book")
    assert plain.texts == ["Lovely! Which treatment would you like to book?"]
    assert '/inform{"service":"massage"}' in plain.buttons


async def test_personal_training_is_offered_only_where_there_is_a_gym(domain: Domain) -> None:
    run = await run_sdk(
        ValidateBookingForm(),
        domain,
        slots={"service": "personal_training"},
        candidates={"location": "Kraków"},
    )
    assert run.slots() == {"location": None}
    assert run.texts == [
        "personal training session (60 min) isn't available in Kraków Kazimierz, I'm afraid; "
        "you can book it in Warsaw Mokotów, Warsaw Śródmieście."
    ]


async def test_form_reads_a_service_the_nlu_did_not_annotate(domain: Domain) -> None:
    run = await run_sdk(
        ValidateBookingForm(), domain, slots={REQUESTED_SLOT: "service"}, text="umm the gel pedi please"
    )
    assert run.slots() == {"service": "pedicure_gel"}


async def test_booking_is_stored_and_confirmed_with_deposit_and_patch_test_notes(
    domain: Domain, bookings_db: str
) -> None:
    start = upcoming(3, 10)  # a Thursday at 10:00
    run = await run_sdk(
        ActionBookAppointment(),
        domain,
        slots={
            "service": "balayage",
            "location": "warsaw_mokotow",
            "time": start.isoformat(),
            "client_name": "Ola",
        },
    )
    reference = run.slots()["booking_reference"]
    assert re.fullmatch(r"MH-\d{5}", reference)
    assert run.slots() | {"booking_reference": None} == {
        "booking_reference": None,
        "service": None,
        "location": None,
        "time": None,
    }
    confirmation, deposit, patch_test = run.texts
    assert confirmation.startswith("You're booked! balayage at Warsaw Mokotów (ul. Puławska 145")
    assert (
        f"on Thursday {start.day} {start:%B} at 10:00, from 750 PLN" in confirmation
        and reference in confirmation
    )
    assert "deposit (225 PLN)" in deposit
    assert "patch test" in patch_test

    from actions.bookings import BookingRepository

    async with BookingRepository() as repo:
        stored = await repo.get(reference)
    assert stored is not None and stored.local_start == start and stored.client_name == "Ola"
    assert (stored.sender_id, stored.status, stored.deposit_pln) == ("client-1", "booked", 225)


async def test_booking_without_the_form_slots_apologises_and_offers_a_person(
    domain: Domain, bookings_db: str
) -> None:
    run = await run_sdk(ActionBookAppointment(), domain, slots={"service": "balayage"})
    assert "couldn't complete the booking" in run.texts[0]
    assert run.buttons == ["/affirm", "/deny"]


# ---- cancelling and moving -------------------------------------------------------------


async def test_cancelling_more_than_24_hours_ahead_is_free(domain: Domain, bookings_db: str) -> None:
    checked = await run_sdk(ValidateCancelForm(), domain, candidates={"booking_reference": "mh 10001"})
    assert checked.slots() == {"booking_reference": "MH-10001"} and checked.texts == []

    confirm = await run_sdk(ActionConfirmCancellation(), domain, slots={"booking_reference": "MH-10001"})
    assert "relaxing massage (60 min) at Warsaw Mokotów" in confirm.texts[0]
    assert "cancelling is free. Shall I cancel it?" in confirm.texts[0]

    done = await run_sdk(ActionCancelAppointment(), domain, slots={"booking_reference": "MH-10001"})
    assert done.texts[0].startswith("Done: MH-10001") and "free of charge" in done.texts[0]
    assert done.slots() == {"booking_reference": None}

    again = await run_sdk(ValidateCancelForm(), domain, candidates={"booking_reference": "MH-10001"})
    assert again.slots() == {"booking_reference": None}
    assert again.texts == ["Booking MH-10001 has already been cancelled. Do you have another reference?"]


async def test_cancelling_within_24_hours_charges_half_the_price(domain: Domain, bookings_db: str) -> None:
    confirm = await run_sdk(ActionConfirmCancellation(), domain, slots={"booking_reference": "MH-10003"})
    assert "cancelling now costs 50% of the price (95 PLN)" in confirm.texts[0]  # gel manicure, 190 PLN
    done = await run_sdk(ActionCancelAppointment(), domain, slots={"booking_reference": "MH-10003"})
    assert "a late cancellation fee of 95 PLN applies" in done.texts[0]

    from actions.bookings import BookingRepository

    async with BookingRepository() as repo:
        stored = await repo.get("MH-10003")
    assert stored is not None and (stored.status, stored.fee_pln) == ("cancelled", 95)


async def test_unknown_reference_is_asked_again(domain: Domain, bookings_db: str) -> None:
    run = await run_sdk(ValidateCancelForm(), domain, candidates={"booking_reference": "MH-99999"})
    assert run.slots() == {"booking_reference": None}
    assert run.texts[0].startswith("I couldn't find a booking with the reference MH-99999")


async def test_a_typed_reference_is_read_when_the_form_asked_for_it(domain: Domain, bookings_db: str) -> None:
    run = await run_sdk(
        ValidateCancelForm(),
        domain,
        slots={REQUESTED_SLOT: "booking_reference"},
        text="it is mh10002 I think",
    )
    assert run.slots() == {"booking_reference": "MH-10002"}


async def test_moving_a_booking_checks_the_new_time_and_stores_it(domain: Domain, bookings_db: str) -> None:
    saturday = upcoming(5, 10)  # balayage (180 min) at Śródmieście: Saturday 9:00-18:00
    reference = await run_sdk(ValidateRescheduleForm(), domain, candidates={"booking_reference": "MH-10002"})
    assert reference.slots() == {"booking_reference": "MH-10002"} and reference.texts == []

    too_late = await run_sdk(
        ValidateRescheduleForm(),
        domain,
        slots={"booking_reference": "MH-10002"},
        candidates={"new_time": iso(saturday.replace(hour=16))},
    )
    assert too_late.slots() == {"new_time": None, "booking_date": None}
    assert "the latest start is 15:00" in too_late.texts[0]

    ok = await run_sdk(
        ValidateRescheduleForm(),
        domain,
        slots={"booking_reference": "MH-10002"},
        candidates={"new_time": iso(saturday)},
    )
    assert ok.slots() == {"new_time": saturday.isoformat(), "booking_date": None}

    moved = await run_sdk(
        ActionRescheduleAppointment(),
        domain,
        slots={"booking_reference": "MH-10002", "new_time": saturday.isoformat()},
    )
    assert moved.texts == [
        f"All set: MH-10002 (balayage at Warsaw Śródmieście) is now on Saturday {saturday.day} {saturday:%B} "
        "at 10:00, free of charge. See you then!"
    ]
    assert moved.slots() == {"booking_reference": None, "new_time": None}

    from actions.bookings import BookingRepository

    async with BookingRepository() as repo:
        stored = await repo.get("MH-10002")
    assert stored is not None and stored.local_start == saturday and stored.fee_pln == 0


async def test_moving_within_24_hours_warns_about_the_fee_first(domain: Domain, bookings_db: str) -> None:
    run = await run_sdk(ValidateRescheduleForm(), domain, candidates={"booking_reference": "MH-10003"})
    assert run.slots() == {"booking_reference": "MH-10003"}
    assert "counts as a late cancellation (95 PLN)" in run.texts[0]


# ---- information -----------------------------------------------------------------------


async def test_price_of_one_service_remembers_it_for_a_booking(domain: Domain) -> None:
    run = await run_sdk(
        ActionShowPrices(),
        domain,
        intent="ask_prices",
        text="how much is a hydrafacial?",
        entities=[{"entity": "service", "value": "hydrafacial"}],
    )
    assert run.texts[0] == "HydraFacial: 550 PLN, about 50 minutes."
    assert "30% deposit (165 PLN)" in run.texts[1]
    assert run.buttons == ['/book_appointment{"service":"hydrafacial"}']
    assert run.slots() == {"service": "hydrafacial"}


async def test_price_list_of_a_category_and_the_overview(domain: Domain) -> None:
    category = await run_sdk(ActionShowPrices(), domain, intent="ask_prices", text="what do massages cost?")
    assert (
        "• deep tissue massage: 360 PLN" in category.texts[0]
        and "• hot stone massage (90 min): 490 PLN" in category.texts[0]
    )
    overview = await run_sdk(ActionShowPrices(), domain, intent="ask_prices", text="price list please")
    assert overview.texts[0].startswith("Which prices would you like to see?")
    assert '/ask_prices{"service":"nails"}' in overview.buttons


async def test_opening_hours_of_one_studio_and_of_all(domain: Domain) -> None:
    one = await run_sdk(
        ActionShowOpeningHours(),
        domain,
        intent="ask_opening_hours",
        text="hours in Kraków?",
        entities=[{"entity": "location", "value": "krakow_kazimierz"}],
    )
    assert one.texts[0].startswith(
        "Kraków Kazimierz (ul. Józefa 22, 31-056 Kraków) is open "
        "Mon–Fri 9:00–20:00, Sat 9:00–18:00, Sun 10:00–16:00."
    )
    every = await run_sdk(
        ActionShowOpeningHours(), domain, intent="ask_opening_hours", text="when are you open?"
    )
    assert "• Warsaw Śródmieście: Mon–Fri 7:00–21:00, Sat 9:00–18:00, Sun closed" in every.texts[0]


async def test_polish_client_gets_polish_dates_and_prices(domain: Domain, bookings_db: str) -> None:
    start = upcoming(4, 15)
    run = await run_sdk(
        ActionBookAppointment(),
        domain,
        slots={
            "language": "pl",
            "service": "manicure_gel",
            "location": "krakow_kazimierz",
            "time": start.isoformat(),
        },
    )
    month = [
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ][start.month - 1]
    assert run.texts[0].startswith("Gotowe! manicure hybrydowy w studiu Kraków Kazimierz (ul. Józefa 22")
    assert f"piątek, {start.day} {month}, godz. 15:00, 190 zł" in run.texts[0]


async def test_language_follows_the_client_but_not_on_a_short_word(domain: Domain) -> None:
    to_polish = await run_sdk(ValidateSlotMappings(), domain, text="dzień dobry, mam pytanie", language="pl")
    assert to_polish.slots() == {"language": "pl"}
    short = await run_sdk(ValidateSlotMappings(), domain, slots={"language": "pl"}, text="ok", language="en")
    assert short.slots() == {}
    a_name = await run_sdk(
        ValidateSlotMappings(),
        domain,
        text="Śródmieście",
        language="pl",
        entities=[{"entity": "location", "value": "warsaw_srodmiescie", "start": 0, "end": 11}],
    )
    assert a_name.slots() == {}  # a studio's name says nothing about the client's language
    back = await run_sdk(
        ValidateSlotMappings(),
        domain,
        slots={"language": "pl"},
        text="sorry, can we speak English?",
        language="en",
    )
    assert back.slots() == {"language": "en"}


# ---- through the bot's action registry --------------------------------------------------


async def test_booking_form_conversation_in_process(domain: Domain, bookings_db: str) -> None:
    registry = ActionRegistry(domain, ResponseRenderer(domain, seed=7), modules=["actions.mariia"])
    chat = Conversation(registry)
    await chat.say("book a gel mani please", "book_appointment", [{"entity": "service", "value": "gel mani"}])
    assert texts(await chat.run("booking_form")) == ["Which studio suits you best?"]
    await chat.listen()
    await chat.say("Kraków", "inform", [{"entity": "location", "value": "krakow_kazimierz"}])
    asked = texts(await chat.run("booking_form"))
    assert asked == [
        "When would you like to come? Kazimierz is open Mon–Fri 9:00–20:00, Sat 9:00–18:00 and "
        "Sun 10:00–16:00."
    ]
    await chat.listen()
    monday = upcoming(0, 19, 30)  # gel manicure takes 60 min; Kraków closes at 20:00
    await chat.say("monday 7:30pm", "inform", [{"entity": "time", "value": iso(monday)}])
    rejected = texts(await chat.run("booking_form"))
    assert "the latest start is 19:00." in rejected[0] and rejected[1].startswith(
        "When would you like to come?"
    )
    await chat.listen()
    await chat.say(
        "monday at 6pm then", "inform", [{"entity": "time", "value": iso(monday.replace(hour=18, minute=0))}]
    )
    done = await chat.run("booking_form")
    assert chat.tracker.active_loop_name is None and texts(done) == []
    confirmed = texts(await chat.run("action_book_appointment"))
    assert "gel manicure at Kraków Kazimierz" in confirmed[0] and "at 18:00, 190 PLN" in confirmed[0]
    assert re.fullmatch(r"MH-\d{5}", chat.tracker.get_slot("booking_reference"))


async def test_polish_message_switches_replies_to_polish(domain: Domain) -> None:
    registry = ActionRegistry(domain, ResponseRenderer(domain, seed=7), modules=["actions.mariia"])
    chat = Conversation(registry)
    message = user_message(
        "ile kosztuje laminacja brwi?", "ask_prices", [{"entity": "service", "value": "brow_lamination"}]
    )
    chat.apply(
        [message.model_copy(update={"parse_data": message.parse_data.model_copy(update={"language": "pl"})})]
    )
    chat.apply(await registry.get("action_extract_slots").run(chat.tracker, domain, registry.nlg, "rest"))
    assert chat.tracker.get_slot("language") == "pl"
    assert texts(await chat.run("action_show_prices")) == [
        "laminacja brwi: 220 zł, ok. 60 min.",
        "Wymaga bezpłatnego, 10-minutowego testu uczuleniowego co najmniej 48 godzin wcześniej.",
    ]


async def test_handoff_acknowledges_and_requests_a_person(domain: Domain) -> None:
    registry = ActionRegistry(domain, ResponseRenderer(domain, seed=7), modules=["actions.mariia"])
    chat = Conversation(registry)
    await chat.say("my colour came out orange", "complaint")
    await chat.run("utter_complaint_apology")
    await chat.listen()
    await chat.say("yes please", "affirm")
    events = await chat.run("action_handoff_to_human")
    assert texts(events)[0].startswith(
        "Of course. I'm passing our conversation to a member of the Mariia Hub team"
    )
    handoff = [e for e in events if isinstance(e, HandoffRequested)]
    assert [(h.reason, h.detail) for h in handoff] == [("client_request", "complaint")]
    assert chat.tracker.handoff_status == "bot"  # the handoff state machine moves it on, not the action


# ---- the same file on the real rasa-sdk action server -------------------------------------


@pytest.fixture(scope="module")
def mariia_action_server(rasa_sdk_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m rasa_sdk --actions actions.mariia`` from the repository; yields the webhook URL."""
    log_path = tmp_path_factory.mktemp("rasa_sdk") / "server.log"
    with rasa_sdk_server(rasa_sdk_python, "actions.mariia", REPO, log_path) as url:
        yield url


async def test_real_rasa_sdk_server_runs_the_same_actions(domain: Domain, mariia_action_server: str) -> None:
    async with httpx.AsyncClient() as http:
        registry = ActionRegistry(
            domain, ResponseRenderer(domain, seed=7), action_endpoint=mariia_action_server, http=http
        )
        chat = Conversation(registry)
        await chat.say("what's a lash lift?", "ask_prices", [{"entity": "service", "value": "lash_lift"}])
        prices = await chat.run("action_show_prices")
        assert texts(prices) == [
            "lash lift and tint: 230 PLN, about 60 minutes.",
            "It needs a free 10-minute patch test at least 48 hours before.",
        ]
        assert chat.tracker.get_slot("service") == "lash_lift"
        await chat.listen()

        await chat.say(
            "book it for sunday at noon in the centre",
            "book_appointment",
            [
                {"entity": "location", "value": "warsaw_srodmiescie"},
                {"entity": "time", "value": iso(upcoming(6, 12))},
            ],
        )
        form = await chat.run("booking_form")
        assert texts(form) == [
            f"Warsaw Śródmieście is closed on {format_day(upcoming(6, 12), 'en')}, I'm afraid.",
            "When would you like to come? Śródmieście is open Mon–Fri 7:00–21:00 and Sat 9:00–18:00 "
            "(closed on Sundays).",
        ]
        assert chat.tracker.get_slot(REQUESTED_SLOT) == "time"
        await chat.listen()

        await chat.say("I want a person", "request_human")
        handoff = await chat.run("action_handoff_to_human")
        assert [(e.reason, e.detail) for e in handoff if isinstance(e, HandoffRequested)] == [
            ("client_request", "request_human")
        ]
