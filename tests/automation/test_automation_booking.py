"""``booking_created``: the demo booking action's record (its ``booking:<reference>``
reminder) fires a rule once, with the booking's details for a reply; a cancellation's
``booking_reference`` slot or another reminder fires nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actions.base import event_from_wire
from actions.bookings import Booking
from actions.mariia import ActionBookAppointment
from automation.rules import parse_rules
from automation.service import build_runner, dry_run_for
from bot.events import BotUttered, ReminderScheduled, SlotSet
from bot.store import EventStore
from console.audit import AuditFilter, AuditLog
from handoff.recognition import CLIENT_SLOT, RECOGNISED
from tests.automation.automation_support import Clock, runtime_on
from tests.automation.test_automation_runner import OPEN, complaint

RULES = """
rules:
  - id: vip_booking_thanks
    name: a VIP's booking gets the concierge's own confirmation
    on: booking_created
    if: {tier: [VIP]}
    then:
      - reply: {text: "Thank you, {first_name}: {service_name} at {studio}, {when} (reference {reference})."}
      - tag: booked
"""


def booked(reference: str) -> Any:
    """The demo booking action's reminder event, as the engine reads it from the action."""
    booking = Booking(
        reference=reference,
        service="signature_facial",
        location="mokotow",
        starts_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        duration_min=60,
        price_pln=420,
    )
    wire = ActionBookAppointment.reminder(booking, "Signature facial", "Mokotów", "en")
    return event_from_wire(wire, "action_book_appointment")


async def test_a_booking_fires_its_rule_once_with_the_bookings_details(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(RULES, encoding="utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        aleksandra = await runtime.client_for("whatsapp:+48601234567")
        assert aleksandra is not None
        vip = "widget:booking-vip"
        recognised = SlotSet(name=CLIENT_SLOT, value=aleksandra.id, metadata=RECOGNISED, timestamp=OPEN)
        await store.append(
            vip, [recognised, SlotSet(name="tier", value="VIP", timestamp=OPEN), complaint(OPEN)]
        )
        await store.append(
            vip, [SlotSet(name="booking_reference", value="MH-40021", timestamp=OPEN), booked("MH-40021")]
        )
        # a cancellation fills the same slot, and other reminders exist: neither is a booking
        other = "widget:booking-cancel"
        await store.append(other, [SlotSet(name="tier", value="VIP", timestamp=OPEN), complaint(OPEN)])
        await store.append(other, [SlotSet(name="booking_reference", value="MH-40021", timestamp=OPEN)])
        reminder = ReminderScheduled(
            intent="EXTERNAL_follow_up",
            date_time="2026-11-28T10:00:00+00:00",
            name="call-back",
            timestamp=OPEN,
        )
        await store.append(other, [reminder])

        assert await runner.run_once(assign=False) == 1
        assert await runner.run_once(assign=False) == 0
        lines = [e for e in await store.events(vip) if isinstance(e, BotUttered)]
        assert [line.text for line in lines] == [
            "Thank you, Aleksandra: Signature facial at Mokotów, "
            f"{booked('MH-40021').entities['when']} (reference MH-40021)."
        ]
        assert not [e for e in await store.events(other) if isinstance(e, BotUttered)]
        entries, total = await AuditLog(store.engine).entries(AuditFilter(action="automation.rule_fired"))
        assert total == 1 and entries[0].detail["trigger"] == "booking_created"

        report = await dry_run_for(store, runtime, parse_rules(RULES), now=OPEN + 60)
        (count,) = report.rules
        assert (count.fired, count.conversations) == (1, 1)
        await runner.stop()
    finally:
        await store.close()
