"""Who is writing: identities from a message, the client behind them, and the slots they give."""

from __future__ import annotations

import pytest

from bot.domain import Domain, SlotDef
from bot.events import SlotSet
from bot.models import InboundMessage
from handoff.clients import ClientStore, ClientUpsert
from handoff.identity import Identity
from handoff.recognition import ClientRecognition, client_slots, message_identities, name_fields, slot_events


def ids(channel: str, sender: str, **metadata: str) -> list[str]:
    return [str(i) for i in message_identities(channel, sender, metadata)]


def test_every_channel_sender_and_contact_hint_becomes_a_normalised_identity() -> None:
    assert ids("whatsapp", "whatsapp:+48 601 234 567") == ["phone:+48601234567"]  # Twilio's From
    assert ids("whatsapp_cloud", "48601234567") == ["phone:+48601234567"]  # Meta's wa_id
    assert ids("email", "Ola.Wisniewska@Example.PL") == ["email:ola.wisniewska@example.pl"]
    assert ids("telegram", "77001", contact_phone="0048 601 234 567", contact_email="OLA@example.pl") == [
        "telegram:77001",
        "phone:+48601234567",
        "email:ola@example.pl",
    ]
    # the same phone twice is one identity; a channel without identities keeps only the hints
    assert ids("whatsapp", "+48601234567", contact_phone="601-234-567") == ["phone:+48601234567"]
    assert ids("test", "anyone", contact_email="a@b.pl") == ["email:a@b.pl"]
    assert ids("test", "anyone") == []


def test_hints_that_identify_nobody_are_dropped_not_fatal() -> None:
    assert ids("widget", "session-1", contact_phone="call me maybe", contact_email="not-an-email") == [
        "widget:session-1"
    ]


def test_a_contact_name_fills_first_and_last_name() -> None:
    assert name_fields({"contact_name": "  Marta   Nowicka-Kowal "}) == {
        "first_name": "Marta",
        "last_name": "Nowicka-Kowal",
    }
    assert name_fields({"contact_name": "Marta"}) == {"first_name": "Marta"}
    assert name_fields({}) == {}


async def test_a_conversation_is_resolved_once_and_later_hints_merge_into_the_known_client(
    client_store: ClientStore,
) -> None:
    known = await client_store.upsert(
        ClientUpsert(
            first_name="Aleksandra",
            membership="black",
            identities=[Identity.of("email", "ola@example.pl")],
        )
    )
    recognition = ClientRecognition(client_store)
    anonymous = InboundMessage(channel="widget", sender_id="session-42", text="hi")
    first = await recognition.recognise(anonymous)
    assert first is not None and first.id != known.id and first.tier == "Standard"
    again = await recognition.recognise(anonymous)
    assert again is not None and again.id == first.id
    assert len(await client_store.list_ids()) == 2

    # the site logs her in: the verified e-mail arrives with the same widget session
    logged_in = anonymous.model_copy(update={"metadata": {"contact_email": "OLA@example.pl"}})
    merged = await recognition.recognise(logged_in)
    assert merged is not None and merged.id == known.id and merged.tier == "VIP"
    assert {str(i) for i in merged.identities} == {"email:ola@example.pl", "widget:session-42"}
    assert await client_store.list_ids() == [known.id]
    found = await recognition.for_conversation("widget", "session-42")
    assert found is not None and found.id == known.id


async def test_looking_up_a_conversation_never_creates_a_client(client_store: ClientStore) -> None:
    recognition = ClientRecognition(client_store)
    assert await recognition.for_conversation("telegram", "123456") is None
    assert await recognition.for_conversation("test", "someone") is None
    assert await client_store.list_ids() == []


async def test_the_slots_a_client_gives_are_set_only_when_they_change(client_store: ClientStore) -> None:
    profile = await client_store.identify([Identity.of("phone", "601234567")], first_name="Ola")
    domain = Domain(
        slots={
            "tier": SlotDef(name="tier", type="categorical", values=["VIP", "Premium", "Standard"]),
            "client_first_name": SlotDef(name="client_first_name", type="text"),
        }
    )
    wanted = client_slots(profile, domain)
    assert wanted == {"tier": "Standard", "client_first_name": "Ola"}  # no client_id slot in this domain
    events = slot_events(wanted, {"tier": "Standard", "client_first_name": None}, timestamp=5.0)
    assert events == [SlotSet(name="client_first_name", value="Ola", timestamp=5.0)]


@pytest.mark.parametrize("sender", ["whatsapp:", "whatsapp:+48 12"])
def test_a_sender_id_that_is_no_phone_gives_no_identity(sender: str) -> None:
    assert message_identities("whatsapp", sender, {}) == []


async def test_a_conversations_profile_is_reused_for_a_minute_then_read_again(
    client_store: ClientStore,
) -> None:
    now = [0.0]
    recognition = ClientRecognition(client_store, monotonic=lambda: now[0])
    message = InboundMessage(channel="whatsapp", sender_id="+48601234567", text="hi")
    first = await recognition.recognise(message)
    assert first is not None and first.tier == "Standard"
    await client_store.upsert(
        ClientUpsert(membership="black", identities=[Identity.of("phone", "601234567")])
    )
    now[0] = 59.0
    cached = await recognition.recognise(message)
    assert cached is not None and cached.tier == "Standard"  # within the minute: no database read
    now[0] = 61.0
    fresh = await recognition.recognise(message)
    assert fresh is not None and fresh.id == first.id and fresh.tier == "VIP"
    recognition.forget()
    assert (await recognition.recognise(message)).tier == "VIP"  # type: ignore[union-attr]
