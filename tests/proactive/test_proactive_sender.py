"""The proactive scheduler end to end, on real SQLite and PostgreSQL, through the real outbox
and the WhatsApp Cloud API stand-in, with a clock the test moves: a booking's reminders at the
studio's local times, quiet hours, the 24-hour window, "stop", two senders, VIP approval."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from actions.base import event_from_wire
from actions.bookings import Booking
from actions.mariia import ActionBookAppointment
from actions.sdk.events import ReminderCancelled
from bot.audit import audit
from bot.channels.outbox_projection import OutboxProjector
from bot.events import BotUttered, SlotSet, UserUttered
from bot.store import EventStore
from handoff.config import TierConfig
from handoff.projections import ConversationFactsProjector
from handoff.tables import clients
from proactive.birthdays import schedule_birthdays
from proactive.config import ProactiveConfig
from proactive.schedule import Approvals, ProactiveProjector, insert_rows, new_row
from proactive.sender import ProactiveSender
from proactive.tables import proactive_messages, proactive_optouts
from tests.proactive.proactive_support import Clock, WhatsApp, whatsapp

WARSAW = ZoneInfo("Europe/Warsaw")
REPO = Path(__file__).resolve().parents[2]
SENDER_PROCESS = Path(__file__).with_name("sender_process.py")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)  # type: ignore[misc]


async def rows(store: EventStore) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(select(proactive_messages).order_by(proactive_messages.c.due_at))
        return [dict(r._mapping) for r in result]


async def proactive_lines(store: EventStore, conversation_id: str) -> list[BotUttered]:
    events = await store.events(conversation_id)
    return [e for e in events if isinstance(e, BotUttered) and e.metadata.get("proactive")]


def booked(starts_at: datetime) -> Any:
    """The demo booking action's reminder event, as the engine reads it from the action."""
    booking = Booking(
        reference="MH-40021",
        service="signature_facial",
        location="mokotow",
        starts_at=starts_at.astimezone(UTC),
        duration_min=60,
        price_pln=420,
    )
    wire = ActionBookAppointment.reminder(booking, "Signature facial", "Mokotów", "en")
    return event_from_wire(wire, "action_book_appointment")


def sender(
    store: EventStore, wa: WhatsApp, clock: Clock, config: ProactiveConfig | None = None
) -> ProactiveSender:
    """A sender on ``store`` (its projector installed, as the composition root does)."""
    config = config or ProactiveConfig()
    if all(p.name != ProactiveProjector.name for p in store.projectors):
        store.add_projector(ProactiveProjector(config))
    return ProactiveSender(store, config, {wa.channel.name: wa.channel}, clock=clock, wake=wa.outbox.wake)


async def test_a_booking_yields_its_reminders_at_the_studios_local_times(store: EventStore) -> None:
    # 10:00 on 28 March 2027 in Warsaw, the morning the clocks go forward (CET -> CEST)
    clock = Clock(local(2027, 3, 26, 12, 0).astimezone(UTC))
    async with whatsapp(store) as wa:
        wa.channel.clock = clock
        proactive = sender(store, wa, clock)
        conversation = await wa.conversation()
        await store.append(conversation, [UserUttered(text="book a facial", timestamp=clock().timestamp())])
        reminder = booked(local(2027, 3, 28, 10, 0))
        await store.append(conversation, [reminder])

        due = [r["due_at"] for r in await rows(store)]
        # 24 h before on the studio's clock: 10:00 CET the day before; 2 h before: 08:00 CEST
        assert due == [local(2027, 3, 27, 10, 0), local(2027, 3, 28, 8, 0)]
        assert [d.astimezone(UTC).hour for d in due] == [9, 6]
        await store.append(conversation, [reminder])  # the same event again schedules nothing
        assert len(await rows(store)) == 2

        clock.now = local(2027, 3, 27, 9, 59).astimezone(UTC)
        assert await proactive.run_round() == 0
        clock.now = local(2027, 3, 27, 10, 0).astimezone(UTC)
        assert await proactive.run_round() == 1
        await wa.outbox.drain(within=30)
        first = wa.meta.delivered
        assert len(first) == 1 and first[0]["type"] == "text"  # the client wrote 22 h ago: free text
        assert "Signature facial" in first[0]["text"]["body"] and "MH-40021" in first[0]["text"]["body"]

        # 08:00 is inside the quiet hours (21:00-09:00): deferred to 09:00, still before the visit
        clock.now = local(2027, 3, 28, 8, 0).astimezone(UTC)
        assert await proactive.run_round() == 0
        second = (await rows(store))[1]
        assert second["state"] == "scheduled" and second["reason"] == "deferred: quiet hours"
        assert second["due_at"] == local(2027, 3, 28, 9, 0)
        clock.now = local(2027, 3, 28, 9, 0).astimezone(UTC)
        assert await proactive.run_round() == 1
        await wa.outbox.drain(within=30)
        # the client last wrote 45 h ago: outside the window the approved template goes out
        template = wa.meta.delivered[1]
        assert template["type"] == "template"
        assert template["template"]["name"] == "appointment_reminder_v2"
        values = [p["text"] for p in template["template"]["components"][0]["parameters"]]
        assert values[0] == "Signature facial" and values[2] == "MH-40021"

        assert [r["state"] for r in await rows(store)] == ["sent", "sent"]
        lines = await proactive_lines(store, conversation)
        assert [line.metadata["proactive"] for line in lines] == ["appointment_reminder"] * 2
        assert [r["sent_seq"] for r in await rows(store)] == [
            s.seq for s in await store.load(conversation) if s.event in lines
        ]


async def test_outside_the_window_without_a_template_the_reminder_is_skipped_with_its_reason(
    store: EventStore,
) -> None:
    clock = Clock(local(2027, 5, 10, 12, 0).astimezone(UTC))
    async with whatsapp(store, templates=False) as wa:
        wa.channel.clock = clock
        proactive = sender(store, wa, clock)
        conversation = await wa.conversation()
        await store.append(conversation, [UserUttered(text="book", timestamp=clock().timestamp())])
        await store.append(conversation, [booked(local(2027, 5, 14, 15, 0))])
        clock.now = local(2027, 5, 13, 15, 0).astimezone(UTC)
        assert await proactive.run_round() == 0
        assert [(r["state"], r["reason"]) for r in await rows(store)] == [
            ("skipped", "outside_window_no_template"),
            ("scheduled", None),
        ]
        await wa.outbox.drain(within=30)
        assert wa.meta.delivered == [] and await proactive_lines(store, conversation) == []


@pytest.mark.parametrize(
    "stop", ["stop", "STOP reminders!", "stop przypomnienia", "Стоп", "стоп нагадування", "стоп напоминания"]
)
async def test_stop_prevents_every_later_proactive_send(store: EventStore, stop: str) -> None:
    clock = Clock(local(2027, 6, 1, 12, 0).astimezone(UTC))
    async with whatsapp(store) as wa:
        wa.channel.clock = clock
        proactive = sender(store, wa, clock)
        conversation = await wa.conversation()
        await store.append(conversation, [UserUttered(text="book", timestamp=clock().timestamp())])
        await store.append(conversation, [booked(local(2027, 6, 3, 15, 0))])
        async with store.engine.begin() as conn:  # and a follow-up scheduled for the day after
            after = new_row(
                key="follow_up:test",
                kind="follow_up",
                conversation_id=conversation,
                due_at=local(2027, 6, 4, 12, 0),
                params={},
                now=clock(),
            )
            await conn.execute(insert_rows(conn.dialect.name, [after]))
        await store.append(conversation, [UserUttered(text=stop, timestamp=clock().timestamp())])
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(proactive_optouts.c.conversation_id))).scalars().all() == [
                conversation
            ]
        for day, hour in ((2, 15), (3, 13), (4, 12)):
            clock.now = local(2027, 6, day, hour, 0).astimezone(UTC)
            assert await proactive.run_round() == 0
        assert [(r["state"], r["reason"]) for r in await rows(store)] == [("skipped", "opted_out")] * 3
        await wa.outbox.drain(within=30)
        assert wa.meta.delivered == [] and await proactive_lines(store, conversation) == []


async def test_two_senders_on_two_stores_never_send_the_same_reminder_twice(
    store: EventStore, tmp_path: Any
) -> None:
    clock = Clock(local(2027, 7, 1, 12, 0).astimezone(UTC))
    config = ProactiveConfig(max_per_client=10)
    other = EventStore.from_url(store.engine.url)  # a second process: its own engine and pool
    try:
        async with whatsapp(store) as wa:
            wa.channel.clock = clock
            first = sender(store, wa, clock, config)
            OutboxProjector.install(other, {wa.channel.name: wa.channel})
            second = sender(other, wa, clock, config)
            conversations = [await wa.conversation(f"4860100{n:04d}") for n in range(12)]
            for conversation in conversations:
                await store.append(conversation, [UserUttered(text="hi", timestamp=clock().timestamp())])
                await store.append(conversation, [booked(local(2027, 7, 3, 15, 0))])
            clock.now = local(2027, 7, 2, 15, 0).astimezone(UTC)
            results = await asyncio.gather(*(s.run_round() for s in (first, second, first, second)))
            assert sum(results) == 12
            await wa.outbox.drain(within=60)
            assert len(wa.meta.delivered) == 12
            for conversation in conversations:
                assert len(await proactive_lines(store, conversation)) == 1
            assert sorted(r["state"] for r in await rows(store)) == ["scheduled"] * 12 + ["sent"] * 12

            # a sender that claimed a row and stalled past its lease: the other one sends it,
            # and the stalled one's late append is refused whole (nothing stored or queued)
            clock.now = local(2027, 7, 3, 13, 0).astimezone(UTC)
            stalled = await first._claim_due(clock())
            assert len(stalled) == 12
            clock.advance(seconds=config.lease_seconds + 1)
            assert await second.run_round() == 12
            assert [await first._handle(row) for row in stalled] == ["lost"] * 12
            await wa.outbox.drain(within=60)
            assert len(wa.meta.delivered) == 24
            for conversation in conversations:
                assert len(await proactive_lines(store, conversation)) == 2
    finally:
        await other.close()


async def test_a_vip_birthday_greeting_waits_for_an_agents_approval_then_goes_out(store: EventStore) -> None:
    clock = Clock(local(2027, 9, 14, 7, 0).astimezone(UTC))
    store.add_projector(ConversationFactsProjector())
    async with whatsapp(store) as wa:
        wa.channel.clock = clock
        proactive = sender(store, wa, clock)
        people = {"c-vip": ("VIP", date(1990, 9, 14)), "c-premium": ("Premium", date(1985, 9, 14))}
        people["c-std"] = ("Standard", date(1992, 9, 14))
        conversations = {}
        async with store.engine.begin() as conn:
            for client_id, (tier, birthday) in people.items():
                await conn.execute(
                    insert(clients).values(
                        id=client_id,
                        first_name="",
                        last_name="",
                        language="pl",
                        birthday=birthday,
                        tier_override=tier,
                        preferences={},
                        created_at=clock(),
                        updated_at=clock(),
                    )
                )
        for n, client_id in enumerate(people):
            conversation = await wa.conversation(f"4860200{n:04d}")
            conversations[client_id] = conversation
            # client recognition's slot: the facts read model links the conversation to the client
            await store.append(
                conversation,
                [
                    UserUttered(text="dzień dobry", timestamp=clock().timestamp() - 3600),
                    SlotSet(name="client_id", value=client_id),
                ],
            )
        today = clock().astimezone(WARSAW).date()
        channels = {wa.channel.name}
        config, tiers = ProactiveConfig(), TierConfig()
        assert await schedule_birthdays(store.engine, config, tiers, today, channels=channels) == 2
        assert await schedule_birthdays(store.engine, config, tiers, today, channels=channels) == 0
        by_client = {r["client_id"]: r for r in await rows(store)}
        assert set(by_client) == {"c-vip", "c-premium"}  # Standard is not in birthday.tiers
        assert by_client["c-vip"]["state"] == "awaiting_approval"
        assert by_client["c-premium"]["state"] == "scheduled"

        clock.now = local(2027, 9, 14, 10, 0).astimezone(UTC)
        assert await proactive.run_round() == 1  # the Premium greeting; the VIP one waits
        approvals = Approvals(store.engine)
        waiting = await approvals.waiting()
        assert [(w["kind"], w["client_id"]) for w in waiting] == [("birthday", "c-vip")]
        decided = await approvals.decide(waiting[0]["id"], approve=True, by="agent-ola", role="agent")
        assert decided == {"id": waiting[0]["id"], "kind": "birthday", "state": "scheduled"}
        assert await approvals.decide(waiting[0]["id"], approve=False, by="agent-ola") is None  # decided
        assert await proactive.run_round() == 1
        await wa.outbox.drain(within=30)
        sent = wa.meta.delivered
        assert len(sent) == 2 and all(m["type"] == "text" for m in sent)
        assert all("urodzin" in m["text"]["body"] for m in sent)  # the client's language
        vip_lines = await proactive_lines(store, conversations["c-vip"])
        assert [line.metadata["proactive"] for line in vip_lines] == ["birthday"]
        vip = next(r for r in await rows(store) if r["client_id"] == "c-vip")
        assert (vip["state"], vip["decided_by"]) == ("sent", "agent-ola")
        async with store.engine.connect() as conn:
            entries = (await conn.execute(select(audit.c.actor, audit.c.action, audit.c.target))).all()
        assert [tuple(e) for e in entries] == [
            ("agent-ola", "proactive.approve", f"conversation:{conversations['c-vip']}")
        ]


async def test_two_sender_processes_send_each_reminder_once(store: EventStore) -> None:
    clock = Clock(local(2027, 8, 1, 12, 0).astimezone(UTC))
    async with whatsapp(store) as wa:
        wa.channel.clock = clock
        sender(store, wa, clock)  # this process only schedules (its projector) and delivers (its outbox)
        conversations = [await wa.conversation(f"4860300{n:04d}") for n in range(40)]
        for conversation in conversations:
            await store.append(conversation, [UserUttered(text="hi", timestamp=clock().timestamp())])
            await store.append(conversation, [booked(local(2027, 8, 3, 15, 0))])
        clock.now = local(2027, 8, 2, 15, 0).astimezone(UTC)
        url = store.engine.url.render_as_string(hide_password=False)  # a scratch schema rides in it
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(SENDER_PROCESS),
                url,
                "-",
                clock().isoformat(),
                "3",
                cwd=str(REPO),
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for proc in procs:
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
        for proc in procs:  # both set up: they claim from the same due rows at once
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = await asyncio.gather(*(p.communicate() for p in procs))
        assert all(p.returncode == 0 for p in procs), [err.decode()[-2000:] for _, err in outputs]
        sent = [int(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
        assert sum(sent) == 40, [err.decode()[-600:] for _, err in outputs]
        assert len(await rows(store)) == 80
        await wa.outbox.drain(within=60)
        assert len(wa.meta.delivered) == 40
        for conversation in conversations:
            assert len(await proactive_lines(store, conversation)) == 1
        assert sorted(r["state"] for r in await rows(store)) == ["scheduled"] * 40 + ["sent"] * 40


async def test_a_configured_follow_up_goes_out_after_the_visit_and_a_cancellation_stops_all(
    store: EventStore,
) -> None:
    clock = Clock(local(2027, 10, 4, 12, 0).astimezone(UTC))
    config = ProactiveConfig(follow_up_after_hours=3)
    async with whatsapp(store) as wa:
        wa.channel.clock = clock
        proactive = sender(store, wa, clock, config)
        kept, cancelled = await wa.conversation(), await wa.conversation("48601999999")
        for conversation in (kept, cancelled):
            await store.append(conversation, [UserUttered(text="book", timestamp=clock().timestamp())])
            await store.append(conversation, [booked(local(2027, 10, 6, 12, 0))])  # 60 minutes
        await store.append(
            cancelled, [event_from_wire(ReminderCancelled("booking:MH-40021"), "action_cancel")]
        )
        follow_up = next(
            r for r in await rows(store) if r["kind"] == "follow_up" and r["conversation_id"] == kept
        )
        assert follow_up["due_at"] == local(2027, 10, 6, 16, 0)  # the visit ends at 13:00, plus 3 h
        assert "appointment_at" not in follow_up["params"]
        states = {(r["kind"], r["state"]) for r in await rows(store) if r["conversation_id"] == cancelled}
        assert states == {("appointment_reminder", "cancelled"), ("follow_up", "cancelled")}

        clock.now = local(2027, 10, 5, 12, 0).astimezone(UTC)
        assert await proactive.run_round() == 1
        clock.now = local(2027, 10, 6, 10, 0).astimezone(UTC)
        assert await proactive.run_round() == 1
        await store.append(
            kept, [UserUttered(text="see you soon", timestamp=local(2027, 10, 6, 10, 30).timestamp())]
        )
        clock.now = local(2027, 10, 6, 15, 59).astimezone(UTC)
        assert await proactive.run_round() == 0
        clock.now = local(2027, 10, 6, 16, 0).astimezone(UTC)
        assert await proactive.run_round() == 1
        await wa.outbox.drain(within=30)
        sent = wa.meta.delivered
        assert [m["type"] for m in sent] == ["template", "template", "text"]  # the client wrote at 10:30
        assert (
            sent[2]["text"]["body"]
            == "Thank you for visiting Mariia Hub! How was your Signature facial? Just reply here."
        )
        assert [line.metadata["proactive"] for line in await proactive_lines(store, kept)] == [
            "appointment_reminder",
            "appointment_reminder",
            "follow_up",
        ]
        assert await proactive_lines(store, cancelled) == []
