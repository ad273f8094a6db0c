"""What the Mariia Hub actions (:mod:`actions.mariia`) share: the price list and studios,
the clock, the bookings repository, the conversation's language, the check of a
requested time, and the abstract bases of the ask and reference-validation actions.

Concrete actions live in :mod:`actions.mariia`, the module the bot (and a rasa_sdk
action server) loads; nothing here is registered as an action.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:  # a real rasa_sdk action server
    from rasa_sdk import Action, FormValidationAction, Tracker
    from rasa_sdk.events import EventType
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.types import DomainDict
except ImportError:  # in-process, inside Concierge
    from actions.sdk import Action, CollectingDispatcher, DomainDict, EventType, FormValidationAction, Tracker

from actions.mariia_catalog import STUDIO_TZ, Catalog, Location, Service, find_reference
from actions.mariia_text import (
    LANGUAGES,
    complete_time,
    format_day,
    format_hours,
    format_when,
    is_date_only,
    parse_time,
    studio_now,
    time_problem,
)

if TYPE_CHECKING:
    from actions.bookings import Booking, BookingRepository

Clock = Callable[[], datetime]


def language_of(tracker: Tracker) -> str:
    """The conversation's language (the ``language`` slot), English when unset or unknown."""
    language = tracker.get_slot("language")
    return language if language in LANGUAGES else "en"


class Studio:
    """What every Mariia Hub action shares: the catalog (loaded once per action) and the clock."""

    clock: Clock = staticmethod(studio_now)
    _catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        """The price list and studios (``CONCIERGE_DEMO_DATA`` overrides ``data/demo``)."""
        if self._catalog is None:
            folder = os.environ.get("CONCIERGE_DEMO_DATA")
            self._catalog = Catalog.load(Path(folder) if folder else None)
        return self._catalog

    def repository(self) -> BookingRepository:
        """A bookings repository for one action run (use with ``async with``)."""
        # Imported here, not at the top: an action server without SQLAlchemy can then
        # still serve the actions that never touch bookings (prices, hours, handoff).
        from actions.bookings import BookingRepository

        return BookingRepository()

    def checked_time(
        self,
        slot: str,
        value: Any,
        service: Service | None,
        location: Location | None,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> dict[str, Any]:
        """Validate a time slot: ``{slot: ISO time}`` when bookable, else ``{slot: None}``.

        A day without an hour is remembered in ``booking_date`` (the ask action then asks
        for the hour on that day) and completes a later answer that gives only the hour.
        """
        language = language_of(tracker)
        moment = parse_time(value)
        if moment is None:
            dispatcher.utter_message(response="utter_time_unclear")
            return {slot: None}
        moment = complete_time(moment, tracker.latest_message.get("text"), tracker.get_slot("booking_date"))
        if moment is None:
            dispatcher.utter_message(response="utter_time_unclear")
            return {slot: None}
        problem = time_problem(moment, service, location, self.clock(), language)
        if problem is not None:
            dispatcher.utter_message(response=problem[0], **problem[1])
            return {slot: None, "booking_date": None}
        if is_date_only(moment):
            return {slot: None, "booking_date": moment.date().isoformat()}
        return {slot: moment.isoformat(), "booking_date": None}


def words_outside_entities(message: dict[str, Any]) -> int:
    """How many words of a message are not part of an entity (names say nothing about language)."""
    text = message.get("text") or ""
    spans = [(e["start"], e["end"]) for e in message.get("entities") or [] if e.get("start") is not None]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return len([w for w in text.split() if any(ch.isalpha() for ch in w)])


async def booking_details(
    action: Studio, tracker: Tracker, dispatcher: CollectingDispatcher
) -> tuple[Booking, dict[str, Any]] | None:
    """The booking in the ``booking_reference`` slot and its description for responses."""
    reference = tracker.get_slot("booking_reference")
    booking = None
    if reference:
        async with action.repository() as repo:
            booking = await repo.get(reference)
    if booking is None:
        dispatcher.utter_message(response="utter_booking_not_found", reference=str(reference or ""))
        return None
    language = language_of(tracker)
    service = action.catalog.services.get(booking.service)
    location = action.catalog.locations.get(booking.location)
    return booking, {
        "reference": booking.reference,
        "service_name": service.name(language) if service else booking.service,
        "studio": location.name(language) if location else booking.location,
        "when": format_when(booking.local_start, language),
    }


class AskTime(Studio, Action, ABC):
    """Asks when: for the day the client already named if there is one, else the form's question."""

    response = "utter_ask_time"

    @abstractmethod
    def name(self) -> str:
        """``action_ask_<form>_<slot>``."""

    async def location(self, tracker: Tracker) -> Location | None:
        """The studio the appointment is in, if known."""
        return self.catalog.locations.get(tracker.get_slot("location") or "")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``utter_ask_time_of_day`` (with the studio's hours that day) or the form's question."""
        language = language_of(tracker)
        pending = tracker.get_slot("booking_date")
        if not pending:
            dispatcher.utter_message(response=self.response)
            return []
        day = datetime.combine(date.fromisoformat(pending), datetime.min.time(), STUDIO_TZ)
        location = await self.location(tracker)
        hours = location.hours_on(day) if location else None
        if location is None or hours is None:
            dispatcher.utter_message(response="utter_ask_time_of_day", day=format_day(day, language))
        else:
            dispatcher.utter_message(
                response="utter_ask_time_of_day_at_studio",
                day=format_day(day, language),
                studio=location.name(language),
                hours=format_hours(hours),
            )
        return []


class BookingReferenceValidation(Studio, FormValidationAction, ABC):
    """Shared by the cancel and reschedule forms: the reference must name an upcoming booking.

    Abstract (no ``name``), so neither Concierge nor rasa_sdk registers it as an action.
    """

    @abstractmethod
    def name(self) -> str:
        """The validation action's name (``validate_<form>``)."""

    async def extract_booking_reference(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A reference typed in a form NLU did not annotate (e.g. "mh 10234")."""
        if tracker.get_slot("requested_slot") != "booking_reference":
            return {}
        if list(tracker.get_latest_entity_values("booking_reference")):
            return {}
        found = find_reference(tracker.latest_message.get("text"))
        return {"booking_reference": found} if found else {}

    async def upcoming_booking(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Booking | None:
        """The upcoming booking ``value`` refers to; otherwise None, after telling the client why."""
        reference = find_reference(str(value)) if value else None
        booking = None
        if reference is not None:
            async with self.repository() as repo:
                booking = await repo.get(reference)
        if booking is None:
            dispatcher.utter_message(response="utter_booking_not_found", reference=str(value))
        elif booking.status == "cancelled":
            dispatcher.utter_message(response="utter_booking_already_cancelled", reference=booking.reference)
        elif booking.starts_at <= self.clock():
            dispatcher.utter_message(response="utter_booking_in_past", reference=booking.reference)
        else:
            return booking
        return None

    async def validate_booking_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The normalised reference of an upcoming booking, or None (asked again)."""
        booking = await self.upcoming_booking(value, dispatcher, tracker)
        return {"booking_reference": booking.reference if booking else None}


def previous_intent(tracker: Tracker) -> str | None:
    """What led to the handoff: the intent before an "affirm", else the latest intent."""
    intents = [
        (e.get("parse_data") or {}).get("intent", {}).get("name")
        for e in tracker.events
        if e.get("event") == "user"
    ]
    if len(intents) >= 2 and intents[-1] == "affirm":
        return intents[-2]
    return intents[-1] if intents else None
