"""Custom actions of the Mariia Hub demo bot (rasa_sdk style).

The same file runs in-process (through :mod:`actions.sdk`) or on a real rasa_sdk
action server (``rasa run actions --actions actions.mariia``). Messages the client
sees are domain responses (``utter_message(response=..., **values)``), so their
wording and translations live in ``domain.yml`` with the rest of the bot's texts;
the code only fills in what it looked up: prices, opening hours, dates, references.

The price list and studios come from ``data/demo`` (:class:`actions.mariia_catalog.Catalog`),
bookings from :class:`actions.bookings.BookingRepository`, the words put into responses
from :mod:`actions.mariia_text`; what the actions share is in :mod:`actions.mariia_base`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

try:  # a real rasa_sdk action server
    from rasa_sdk import Action, FormValidationAction, Tracker, ValidationAction
    from rasa_sdk.events import EventType, ReminderCancelled, ReminderScheduled, SlotSet
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.types import DomainDict
except ImportError:  # in-process, inside Concierge
    from actions.sdk import (
        Action,
        CollectingDispatcher,
        DomainDict,
        EventType,
        FormValidationAction,
        ReminderCancelled,
        ReminderScheduled,
        SlotSet,
        Tracker,
        ValidationAction,
    )

from actions.mariia_base import (
    AskTime,
    BookingReferenceValidation,
    Studio,
    booking_details,
    language_of,
    previous_intent,
    words_outside_entities,
)
from actions.mariia_catalog import Catalog, Location, Service, cancellation_fee
from actions.mariia_text import (
    LANGUAGES,
    format_price,
    format_when,
    parse_time,
    time_problem,
    week_hours,
    word,
)

if TYPE_CHECKING:
    from actions.bookings import Booking


# ---- slots outside forms -----------------------------------------------------------


class ValidateSlotMappings(Studio, ValidationAction):
    """``action_validate_slot_mappings``: keeps the ``language`` slot in the client's language.

    The bot's NLU puts the detected language in the message's parse data. Names of
    studios and treatments ("Mokotów", "balayage") say nothing about the client's
    language, and a one-word answer ("ok", "tak") is too short to tell, so the language
    changes only on two or more other words (three to switch back to English).
    """

    def name(self) -> str:
        """The name Rasa calls after every user message."""
        return "action_validate_slot_mappings"

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """``{"language": code}`` when the latest message changes the conversation's language."""
        detected = tracker.latest_message.get("language")
        current = tracker.get_slot("language") or "en"
        if detected not in LANGUAGES or detected == current:
            return {}
        if words_outside_entities(tracker.latest_message) < (3 if detected == "en" else 2):
            return {}
        return {"language": detected}


# ---- booking -------------------------------------------------------------------------


class ValidateBookingForm(Studio, FormValidationAction):
    """Checks the booking form's service, studio and time against the price list and opening hours.

    A rejected value gets a short explanation; the question itself comes from the form's
    ask action or response, so the client is never asked twice in one turn.
    """

    def name(self) -> str:
        """Validation action of ``booking_form``."""
        return "validate_booking_form"

    def _requested_words(self, tracker: Tracker, slot: str, entity: str) -> str | None:
        """The latest text when the form asked for ``slot`` and NLU found no ``entity`` in it."""
        if tracker.get_slot("requested_slot") != slot or tracker.get_slot(slot) is not None:
            return None
        if list(tracker.get_latest_entity_values(entity)):
            return None
        return tracker.latest_message.get("text")

    async def extract_service(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A service (or category) named in an answer the NLU did not annotate."""
        text = self._requested_words(tracker, "service", "service")
        found = self.catalog.find_service(text) or self.catalog.find_category(text)
        return {"service": found.key} if found else {}

    async def extract_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A studio named in an answer the NLU did not annotate."""
        found = self.catalog.find_location(self._requested_words(tracker, "location", "location"))
        return {"location": found.key} if found else {}

    async def validate_service(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A bookable service from the price list. A category ("massage") is not one: the
        ask action then offers that category's services."""
        language = language_of(tracker)
        service = self.catalog.find_service(value)
        if service is None:
            if self.catalog.find_category(value) is None:
                dispatcher.utter_message(response="utter_service_unknown", service_text=str(value))
            return {"service": None}
        if not service.bookable:
            dispatcher.utter_message(
                response="utter_service_not_bookable", service_name=service.name(language)
            )
            return {"service": None}
        location = self.catalog.locations.get(tracker.get_slot("location") or "")
        if location is not None and not service.offered_at(location.key):
            _not_offered(dispatcher, self.catalog, service, location, language)
            return {"service": service.key, "location": None}
        return {"service": service.key}

    async def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """One of our studios, offering the chosen service, open at the chosen time."""
        language = language_of(tracker)
        location = self.catalog.find_location(value)
        if location is None:
            dispatcher.utter_message(response="utter_location_unknown", location_text=str(value))
            return {"location": None}
        service = self.catalog.services.get(tracker.get_slot("service") or "")
        if service is not None and not service.offered_at(location.key):
            _not_offered(dispatcher, self.catalog, service, location, language)
            return {"location": None}
        # A time given in the same message is checked by validate_time, with this studio.
        moment = None if "time" in tracker.slots_to_validate() else parse_time(tracker.get_slot("time"))
        if moment is not None:
            problem = time_problem(moment, service, location, self.clock(), language)
            if problem is not None:
                dispatcher.utter_message(response=problem[0], **problem[1])
                return {"location": location.key, "time": None}
        return {"location": location.key}

    async def validate_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A future time within the studio's opening hours, with room for the whole treatment."""
        service = self.catalog.services.get(tracker.get_slot("service") or "")
        location = self.catalog.locations.get(tracker.get_slot("location") or "")
        return self.checked_time("time", value, service, location, dispatcher, tracker)


def _not_offered(
    dispatcher: CollectingDispatcher, catalog: Catalog, service: Service, location: Location, language: str
) -> None:
    elsewhere = [loc.name(language) for loc in catalog.locations.values() if service.offered_at(loc.key)]
    dispatcher.utter_message(
        response="utter_service_not_at_location",
        service_name=service.name(language),
        studio=location.name(language),
        studios=", ".join(elsewhere),
    )


class ActionAskBookingFormService(Studio, Action):
    """Asks which treatment to book; after a category ("a massage") it offers that category's
    treatments as buttons instead of the categories."""

    def name(self) -> str:
        """The booking form's question for ``service`` (Rasa looks for ``action_ask_<form>_<slot>``)."""
        return "action_ask_booking_form_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``utter_choose_service_in_category`` with buttons, or ``utter_ask_service``."""
        language = language_of(tracker)
        mentioned = [*tracker.get_latest_entity_values("service"), tracker.latest_message.get("text")]
        named_service = any(self.catalog.find_service(m) for m in mentioned)
        category = next((c for c in map(self.catalog.find_category, mentioned) if c), None)
        if category is None or named_service:
            dispatcher.utter_message(response="utter_ask_service")
            return []
        buttons = [
            {
                "title": f"{s.name(language)} · {format_price(s, language)}",
                "payload": f'/inform{{"service":"{s.key}"}}',
            }
            for s in self.catalog.in_category(category.key)
            if s.bookable
        ]
        dispatcher.utter_message(
            response="utter_choose_service_in_category", category=category.name(language), buttons=buttons
        )
        return []


class ActionAskBookingFormTime(AskTime):
    """The booking form's question for ``time``."""

    def name(self) -> str:
        """Rasa looks for ``action_ask_<form>_<slot>`` before ``utter_ask_<slot>``."""
        return "action_ask_booking_form_time"


class ActionBookAppointment(Studio, Action):
    """Books the appointment the form collected and confirms it with its reference."""

    def name(self) -> str:
        """Runs after ``booking_form`` is complete."""
        return "action_book_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Store the booking; say what, where, when, how much, plus deposit and patch-test notes."""
        language = language_of(tracker)
        service = self.catalog.services.get(tracker.get_slot("service") or "")
        location = self.catalog.locations.get(tracker.get_slot("location") or "")
        moment = parse_time(tracker.get_slot("time"))
        if service is None or location is None or moment is None:
            dispatcher.utter_message(response="utter_booking_failed")
            return [SlotSet("service", None), SlotSet("location", None), SlotSet("time", None)]
        async with self.repository() as repo:
            booking = await repo.create(
                service,
                location.key,
                moment,
                client_name=tracker.get_slot("client_name"),
                sender_id=tracker.sender_id,
            )
        dispatcher.utter_message(
            response="utter_booking_confirmed",
            reference=booking.reference,
            service_name=service.name(language),
            studio=location.name(language),
            address=location.address,
            when=format_when(booking.local_start, language),
            price=format_price(service, language),
        )
        if service.needs_deposit:
            dispatcher.utter_message(response="utter_booking_deposit", deposit=booking.deposit_pln)
        if service.patch_test:
            dispatcher.utter_message(response="utter_booking_patch_test")
        return [
            SlotSet("booking_reference", booking.reference),
            SlotSet("service", None),
            SlotSet("location", None),
            SlotSet("time", None),
            self.reminder(booking, service.name(language), location.name(language), language),
        ]

    @staticmethod
    def reminder(booking: Booking, service_name: str, studio: str, language: str) -> EventType:
        """The reminder the confirmation promises: Concierge's scheduler sends it at each of
        ``proactive.yml``'s offsets before ``appointment_at`` (24 h and 2 h by default, on the
        studio's clock); a Rasa server triggers ``EXTERNAL_appointment_reminder`` a day before."""
        return ReminderScheduled(
            "EXTERNAL_appointment_reminder",
            booking.starts_at - timedelta(hours=24),
            entities={
                "kind": "appointment_reminder",
                "appointment_at": booking.starts_at.isoformat(),
                "duration_min": booking.duration_min,
                "reference": booking.reference,
                "service_name": service_name,
                "studio": studio,
                "when": format_when(booking.local_start, language),
                "language": language,
            },
            name=f"booking:{booking.reference}",
            kill_on_user_message=False,
        )


# ---- cancelling and moving -------------------------------------------------------------


class ValidateCancelForm(BookingReferenceValidation):
    """Validation of ``cancel_form`` (one slot: the booking reference)."""

    def name(self) -> str:
        """Validation action of ``cancel_form``."""
        return "validate_cancel_form"


class ValidateRescheduleForm(BookingReferenceValidation):
    """Validation of ``reschedule_form``: the booking, then a new time that fits its studio."""

    def name(self) -> str:
        """Validation action of ``reschedule_form``."""
        return "validate_reschedule_form"

    async def validate_booking_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """As for cancelling, and warns up front when moving it now costs a late fee."""
        booking = await self.upcoming_booking(value, dispatcher, tracker)
        if booking is None:
            return {"booking_reference": None}
        fee = cancellation_fee(booking.price_pln, booking.starts_at, self.clock())
        if fee:
            dispatcher.utter_message(response="utter_reschedule_late_warning", fee=fee)
        return {"booking_reference": booking.reference}

    async def validate_new_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A bookable time at the booking's studio for the booking's service."""
        booking = await self._booking(tracker)
        service = self.catalog.services.get(booking.service) if booking else None
        location = self.catalog.locations.get(booking.location) if booking else None
        return self.checked_time("new_time", value, service, location, dispatcher, tracker)

    async def _booking(self, tracker: Tracker) -> Booking | None:
        reference = tracker.get_slot("booking_reference")
        if not reference:
            return None
        async with self.repository() as repo:
            return await repo.get(reference)


class ActionAskRescheduleFormNewTime(AskTime):
    """The reschedule form's question for ``new_time``."""

    response = "utter_ask_new_time"

    def name(self) -> str:
        """Rasa looks for ``action_ask_<form>_<slot>`` before ``utter_ask_<slot>``."""
        return "action_ask_reschedule_form_new_time"

    async def location(self, tracker: Tracker) -> Location | None:
        """The studio of the booking being moved."""
        reference = tracker.get_slot("booking_reference")
        if not reference:
            return None
        async with self.repository() as repo:
            booking = await repo.get(reference)
        return self.catalog.locations.get(booking.location) if booking else None


class ActionConfirmCancellation(Studio, Action):
    """Shows the booking about to be cancelled and what cancelling costs now; asks yes or no."""

    def name(self) -> str:
        """Runs after ``cancel_form`` is complete."""
        return "action_confirm_cancellation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """One of ``utter_confirm_cancellation_free`` / ``_fee`` with yes/no buttons."""
        found = await booking_details(self, tracker, dispatcher)
        if found is None:
            return [SlotSet("booking_reference", None)]
        booking, details = found
        fee = cancellation_fee(booking.price_pln, booking.starts_at, self.clock())
        response = "utter_confirm_cancellation_fee" if fee else "utter_confirm_cancellation_free"
        dispatcher.utter_message(response=response, fee=fee, **details)
        return []


class ActionCancelAppointment(Studio, Action):
    """Cancels the booking, charging 50% when it starts within 24 hours."""

    def name(self) -> str:
        """Runs when the client confirms the cancellation."""
        return "action_cancel_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Cancel and say whether it was free or what fee applies."""
        found = await booking_details(self, tracker, dispatcher)
        if found is None:
            return [SlotSet("booking_reference", None)]
        booking, details = found
        fee = cancellation_fee(booking.price_pln, booking.starts_at, self.clock())
        async with self.repository() as repo:
            await repo.cancel(booking.reference, fee)
        if fee:
            from_deposit = min(fee, booking.deposit_pln)
            dispatcher.utter_message(
                response="utter_cancelled_with_fee", fee=fee, from_deposit=from_deposit, **details
            )
        else:
            dispatcher.utter_message(response="utter_cancelled_free", **details)
        # its reminders (scheduled by this conversation's booking) are not sent any more
        return [SlotSet("booking_reference", None), ReminderCancelled(f"booking:{booking.reference}")]


class ActionRescheduleAppointment(Studio, Action):
    """Moves the booking to the new time (free up to 24 hours before, else a late fee)."""

    def name(self) -> str:
        """Runs after ``reschedule_form`` is complete."""
        return "action_reschedule_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Move the booking and confirm the new time (and the fee, if any)."""
        clear = [SlotSet("booking_reference", None), SlotSet("new_time", None)]
        moment = parse_time(tracker.get_slot("new_time"))
        found = await booking_details(self, tracker, dispatcher)
        if found is None or moment is None:
            if found is not None:
                dispatcher.utter_message(response="utter_time_unclear")
            return clear
        booking, details = found
        fee = cancellation_fee(booking.price_pln, booking.starts_at, self.clock())
        async with self.repository() as repo:
            moved = await repo.reschedule(booking.reference, moment, fee)
        if moved is None:  # cancelled or removed meanwhile, e.g. by the studio
            dispatcher.utter_message(response="utter_booking_not_found", reference=booking.reference)
            return clear
        details["when"] = format_when(moved.local_start, language_of(tracker))
        if fee:
            dispatcher.utter_message(response="utter_rescheduled_with_fee", fee=fee, **details)
        else:
            dispatcher.utter_message(response="utter_rescheduled", **details)
        return clear


# ---- information -----------------------------------------------------------------------


class ActionShowPrices(Studio, Action):
    """Prices from the price list: one service, one category, or the overview."""

    def name(self) -> str:
        """Runs for ``ask_prices``."""
        return "action_show_prices"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Answer with what the client named; remember a named service for a booking that follows."""
        language = language_of(tracker)
        mentioned = [*tracker.get_latest_entity_values("service"), tracker.latest_message.get("text")]
        service = next((s for s in map(self.catalog.find_service, mentioned) if s), None)
        category = next((c for c in map(self.catalog.find_category, mentioned) if c), None)
        if service is not None:
            dispatcher.utter_message(
                response="utter_price_single",
                service_name=service.name(language),
                price=format_price(service, language),
                duration=service.duration_min,
                buttons=[
                    {
                        "title": word("book_it", language),
                        "payload": f'/book_appointment{{"service":"{service.key}"}}',
                    }
                ]
                if service.bookable
                else [],
            )
            if service.needs_deposit:
                dispatcher.utter_message(response="utter_price_deposit_note", deposit=service.deposit_pln)
            if service.patch_test:
                dispatcher.utter_message(response="utter_price_patch_test_note")
            # Outside a form, "book it" next should not ask for the service again.
            return [] if tracker.active_loop_name else [SlotSet("service", service.key)]
        if category is not None:
            lines = [
                f"• {s.name(language)}: {format_price(s, language)}"
                for s in self.catalog.in_category(category.key)
            ]
            dispatcher.utter_message(
                response="utter_price_list", category=category.name(language), price_list="\n".join(lines)
            )
            return []
        dispatcher.utter_message(response="utter_price_overview")
        return []


class ActionShowOpeningHours(Studio, Action):
    """Opening hours of the studio the client named, or of all three."""

    def name(self) -> str:
        """Runs for ``ask_opening_hours``."""
        return "action_show_opening_hours"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """One studio's address and hours, or every studio's hours."""
        language = language_of(tracker)
        mentioned = [*tracker.get_latest_entity_values("location"), tracker.latest_message.get("text")]
        location = next((loc for loc in map(self.catalog.find_location, mentioned) if loc), None)
        if location is not None:
            dispatcher.utter_message(
                response="utter_opening_hours_studio",
                studio=location.name(language),
                address=location.address,
                hours=week_hours(location, language),
            )
        else:
            lines = [
                f"• {loc.name(language)}: {week_hours(loc, language)}"
                for loc in self.catalog.locations.values()
            ]
            dispatcher.utter_message(response="utter_opening_hours_all", hours_list="\n".join(lines))
        return []


# ---- people ----------------------------------------------------------------------------


class ActionHandoffToHuman(Studio, Action):
    """Tells the client a person from the team will take over, and asks for the handoff."""

    def name(self) -> str:
        """Runs when the client asks for a person or accepts the offer of one."""
        return "action_handoff_to_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``utter_handoff`` plus a ``handoff_requested`` event, which starts Concierge's handoff.

        Rasa itself does not know this event type (its ``Event.resolve_by_type`` raises
        for unknown names), so a bot served by Rasa needs this action changed to hand off
        its own way, e.g. with ``ConversationPaused``.
        """
        dispatcher.utter_message(response="utter_handoff")
        trigger = previous_intent(tracker)
        return [{"event": "handoff_requested", "reason": "client_request", "detail": trigger}]
