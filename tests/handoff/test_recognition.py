"""Who is writing: only what a channel proved recognises a client; claims never do."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.domain import Domain, SlotDef
from bot.events import SlotSet
from bot.models import ContactHints, InboundMessage, VerifiedIdentity
from console.audit import AuditFilter, AuditLog
from handoff.clients import ClientProfile, ClientStore, ClientUpsert
from handoff.identity import Identity
from handoff.recognition import (
    ClientRecognition,
    client_slots,
    name_fields,
    proven_identities,
    recognised_client,
    slot_events,
)
from handoff.tables import client_identities, clients

JAMES_PHONE = "+48 793 455 021"


def proven(kind: str, value: str) -> VerifiedIdentity:
    return VerifiedIdentity(kind=kind, value=value, proof="provider")  # type: ignore[arg-type]


def rest_message(sender: str, **hints: str) -> InboundMessage:
    """What the REST channel makes of a request: no identity, whatever the metadata claims."""
    return InboundMessage(channel="rest", sender_id=sender, text="hi", hints=ContactHints(**hints))


async def table_counts(store: ClientStore) -> tuple[int, int]:
    async with store.engine.connect() as conn:
        profiles = (await conn.execute(select(func.count()).select_from(clients))).scalar_one()
        identities = (await conn.execute(select(func.count()).select_from(client_identities))).scalar_one()
    return int(profiles), int(identities)


async def merges(audit: AuditLog) -> list[dict[str, object]]:
    entries, _total = await audit.entries(AuditFilter(action="client.merge"))
    return [{"actor": e.actor, "target": e.target, **e.detail} for e in entries]


async def vip(store: ClientStore, first_name: str, *identities: Identity) -> ClientProfile:
    return await store.upsert(
        ClientUpsert(first_name=first_name, last_name="Reed", membership="black", identities=list(identities))
    )


def test_only_what_the_channel_proved_becomes_an_identity() -> None:
    message = InboundMessage(
        channel="telegram",
        sender_id="77001",
        identities=[proven("telegram", "77001"), proven("phone", "0048 601 234 567")],
        hints=ContactHints(phone="512 908 114", email="someone@example.pl"),
    )
    assert [str(i) for i in proven_identities(message)] == ["telegram:77001", "phone:+48601234567"]
    # claims alone are nothing, and a proven value that is no phone is dropped, not fatal
    assert proven_identities(rest_message("x", phone=JAMES_PHONE, email="james@example.com")) == []
    broken = InboundMessage(channel="whatsapp", sender_id="whatsapp:", identities=[proven("phone", "+48 12")])
    assert proven_identities(broken) == []


def test_a_name_hint_fills_first_and_last_name() -> None:
    assert name_fields(ContactHints(name="  Marta   Nowicka-Kowal ")) == {
        "first_name": "Marta",
        "last_name": "Nowicka-Kowal",
    }
    assert name_fields(ContactHints(name="Marta")) == {"first_name": "Marta"}
    assert name_fields(ContactHints()) == {}


async def test_a_rest_caller_naming_a_vips_phone_is_not_recognised_and_changes_nothing(
    client_store: ClientStore, audit_log: AuditLog
) -> None:
    james = await vip(client_store, "James", Identity.of("phone", JAMES_PHONE))
    before = await client_store.get(james.id)
    recognition = ClientRecognition(client_store)

    spoof = rest_message("attacker-1", phone=JAMES_PHONE, name="James Reed")
    assert await recognition.recognise(spoof) is None
    assert await recognition.recognise(spoof) is None  # nor on the next message

    after = await client_store.get(james.id)
    assert after == before
    assert [str(i) for i in after.identities] == ["phone:+48793455021"]
    assert await table_counts(client_store) == (1, 1)
    assert await merges(audit_log) == []


async def test_claimed_details_of_two_clients_never_merge_them(
    client_store: ClientStore, audit_log: AuditLog
) -> None:
    james = await vip(client_store, "James", Identity.of("phone", JAMES_PHONE))
    emily = await vip(client_store, "Emily", Identity.of("email", "emily@example.com"))
    recognition = ClientRecognition(client_store)
    for channel in ("rest", "widget"):
        message = InboundMessage(
            channel=channel,
            sender_id="someone",
            text="hi",
            hints=ContactHints(phone=JAMES_PHONE, email="emily@example.com"),
        )
        assert await recognition.recognise(message) is None
    assert sorted(await client_store.list_ids()) == sorted([james.id, emily.id])
    assert (await client_store.get(emily.id)).identities == [Identity.of("email", "emily@example.com")]
    assert await merges(audit_log) == []


async def test_sixty_anonymous_senders_create_no_client_profile(client_store: ClientStore) -> None:
    recognition = ClientRecognition(client_store)
    for n in range(60):
        channel = "rest" if n % 2 else "widget"
        message = InboundMessage(
            channel=channel, sender_id=f"visitor-{n:04d}", text="hi", hints=ContactHints(name=f"Guest {n}")
        )
        assert await recognition.recognise(message) is None
    assert await table_counts(client_store) == (0, 0)


async def test_a_site_signed_identity_recognises_the_client(client_store: ClientStore) -> None:
    ola = await vip(client_store, "Aleksandra", Identity.of("email", "ola@example.pl"))
    recognition = ClientRecognition(client_store)
    message = InboundMessage(
        channel="widget",
        sender_id="session-42",
        text="hi",
        identities=[VerifiedIdentity(kind="email", value="OLA@example.pl", proof="site_token")],
    )
    found = await recognition.recognise(message)
    assert found is not None and found.id == ola.id and found.tier == "VIP"
    # the widget session is a conversation key, never stored as one of her identities
    assert [str(i) for i in (await client_store.get(ola.id)).identities] == ["email:ola@example.pl"]
    assert await recognition.for_conversation("widget", "session-42") is None


async def test_a_proven_newcomer_gets_a_profile_named_from_the_hint(client_store: ClientStore) -> None:
    recognition = ClientRecognition(client_store)
    message = InboundMessage(
        channel="whatsapp",
        sender_id="+48601234567",
        text="hi",
        identities=[proven("phone", "+48601234567")],
        hints=ContactHints(name="Ola Nowak"),
    )
    profile = await recognition.recognise(message)
    assert profile is not None and (profile.first_name, profile.last_name) == ("Ola", "Nowak")
    assert await table_counts(client_store) == (1, 1)


async def test_two_proven_identities_of_two_clients_merge_and_the_merge_is_audited(
    client_store: ClientStore, audit_log: AuditLog
) -> None:
    on_telegram = await client_store.identify([Identity.of("telegram", "77001")])
    by_phone = await vip(client_store, "Aleksandra", Identity.of("phone", "601234567"))
    recognition = ClientRecognition(client_store)
    # she shares her own number on Telegram: Telegram vouches for both
    message = InboundMessage(
        channel="telegram",
        sender_id="77001",
        text="here is my number",
        identities=[proven("telegram", "77001"), proven("phone", "+48601234567")],
    )
    merged = await recognition.recognise(message)
    assert merged is not None and merged.id == on_telegram.id  # the older profile survives
    assert merged.tier == "VIP" and merged.first_name == "Aleksandra"
    assert await merges(audit_log) == [
        {
            "actor": "bot",
            "target": f"client:{on_telegram.id}",
            "absorbed": by_phone.id,
            "cause": "proven identities",
            "context": "telegram",
            "shared": "phone",  # the kind, never the number
        }
    ]


async def test_a_conversation_recognised_once_keeps_its_client_for_anonymous_messages(
    client_store: ClientStore,
) -> None:
    ola = await vip(client_store, "Aleksandra", Identity.of("email", "ola@example.pl"))
    recognition = ClientRecognition(client_store)
    later = InboundMessage(channel="widget", sender_id="session-42", text="still me")  # the token expired
    kept = await recognition.recognise(later, known_client=ola.id)
    assert kept is not None and kept.id == ola.id
    assert await recognition.recognise(later.model_copy(update={"sender_id": "session-43"})) is None


def test_recognition_marks_its_slots_and_only_marked_client_slots_count() -> None:
    events = slot_events({"client_id": "c-1"}, {}, timestamp=1.0)
    assert recognised_client(events) == "c-1"
    # a client_id slot filled any other way (an entity in the client's own message) is ignored
    assert recognised_client([*events, SlotSet(name="client_id", value="c-2")]) == "c-1"
    assert recognised_client([SlotSet(name="client_id", value="c-2")]) is None


async def test_looking_up_a_conversation_never_creates_a_client(client_store: ClientStore) -> None:
    recognition = ClientRecognition(client_store)
    assert await recognition.for_conversation("telegram", "123456") is None
    assert await recognition.for_conversation("rest", "attacker-1") is None
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
    assert events == [
        SlotSet(name="client_first_name", value="Ola", timestamp=5.0, metadata={"set_by": "recognition"})
    ]


@pytest.mark.parametrize("sender", ["whatsapp:", "whatsapp:+48 12"])
async def test_a_sender_id_that_is_no_phone_finds_nobody(client_store: ClientStore, sender: str) -> None:
    assert await ClientRecognition(client_store).for_conversation("whatsapp", sender) is None


async def test_a_conversations_profile_is_reused_for_a_minute_then_read_again(
    client_store: ClientStore,
) -> None:
    now = [0.0]
    recognition = ClientRecognition(client_store, monotonic=lambda: now[0])
    message = InboundMessage(
        channel="whatsapp", sender_id="+48601234567", text="hi", identities=[proven("phone", "+48601234567")]
    )
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
