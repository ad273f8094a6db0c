"""Client profiles on real SQLite and PostgreSQL: identities across channels, merges, upserts, tiers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.store import EventStore
from console.audit import AuditFilter, AuditLog
from handoff.clients import ClientNotFound, ClientStore, ClientUpsert, MergeRefused, Visit
from handoff.config import HandoffConfig
from handoff.identity import Identity

TODAY = date(2026, 11, 24)


def phone(raw: str) -> Identity:
    return Identity.of("phone", raw)


async def test_the_same_number_typed_differently_is_the_same_client(client_store: ClientStore) -> None:
    first = await client_store.identify([phone("601-234-567")], first_name="Ola")
    again = await client_store.identify([phone("+48 601 234 567")])
    assert again.id == first.id
    assert again.first_name == "Ola"
    assert again.identities == [Identity(kind="phone", value="+48601234567")]
    assert await client_store.list_ids() == [first.id]


async def test_an_identity_seen_on_a_new_channel_links_to_the_same_client(client_store: ClientStore) -> None:
    known = await client_store.identify([phone("0048 601 234 567"), Identity.of("email", "ola@example.pl")])
    # later the client writes on Telegram and shares her phone number there
    telegram = Identity.from_channel("telegram", "77001")
    linked = await client_store.identify([telegram, phone("601234567")], first_name="Aleksandra")
    assert linked.id == known.id
    assert {str(i) for i in linked.identities} == {
        "phone:+48601234567",
        "email:ola@example.pl",
        "telegram:77001",
    }
    assert linked.first_name == "Aleksandra"  # filled a gap
    assert (await client_store.find(telegram)) is not None
    assert (await client_store.find(telegram)).id == known.id  # type: ignore[union-attr]


async def test_identify_fills_gaps_but_never_overwrites(client_store: ClientStore) -> None:
    await client_store.upsert(ClientUpsert(first_name="Aleksandra", identities=[phone("601234567")]))
    again = await client_store.identify([phone("601234567")], first_name="Ola", language="pl")
    assert again.first_name == "Aleksandra"
    assert again.language == "pl"


async def test_merging_two_clients_keeps_both_histories(client_store: ClientStore) -> None:
    widget = await client_store.upsert(
        ClientUpsert(
            first_name="Kasia",
            identities=[Identity.of("widget", "w-1")],
            visits=[Visit(visited_on=TODAY - timedelta(days=10), category="nails", amount=200)],
            notes=["prefers mornings"],
            preferences={"drink": "espresso"},
        )
    )
    telegram = await client_store.upsert(
        ClientUpsert(
            last_name="Lewandowska",
            identities=[Identity.of("telegram", "555")],
            visits=[Visit(visited_on=TODAY - timedelta(days=40), category="hair", amount=300)],
            notes=["allergic to latex"],
            preferences={"drink": "tea", "music": "quiet"},
        )
    )
    assert widget.id != telegram.id

    merged = await client_store.identify([Identity.of("widget", "w-1"), Identity.of("telegram", "555")])
    assert merged.id == widget.id  # the older profile survives
    assert merged.first_name == "Kasia" and merged.last_name == "Lewandowska"
    assert {str(i) for i in merged.identities} == {"widget:w-1", "telegram:555"}
    assert merged.visit_count == 2 and merged.spend_12m == 500.0
    texts = [n.text for n in merged.notes]
    assert "prefers mornings" in texts and "allergic to latex" in texts
    assert any(t.startswith(f"merged with client {telegram.id}") for t in texts)
    assert merged.preferences == {"drink": "espresso", "music": "quiet"}  # the survivor wins conflicts

    # the absorbed id still resolves, and only the survivor is listed
    assert (await client_store.get(telegram.id)).id == widget.id
    assert await client_store.list_ids() == [widget.id]


async def test_linking_an_identity_owned_by_another_client_merges_them(client_store: ClientStore) -> None:
    a = await client_store.identify([phone("601234567")])
    b = await client_store.identify([phone("512908114")])
    result = await client_store.link(b.id, phone("+48 601 234 567"))
    assert result.id == a.id
    assert {i.value for i in result.identities} == {"+48601234567", "+48512908114"}
    same = await client_store.merge(a.id, b.id)
    assert same.id == a.id


async def test_every_merge_is_audited_with_who_and_why_but_no_personal_data(
    client_store: ClientStore, audit_log: AuditLog
) -> None:
    a = await client_store.identify([phone("601234567")])
    b = await client_store.identify([phone("512908114")])
    await client_store.link(b.id, phone("601 234 567"), actor="anna")  # a manager links the number
    c = await client_store.upsert(ClientUpsert(identities=[Identity.of("email", "kasia@example.pl")]))
    await client_store.upsert(  # the salon system says one person has both
        ClientUpsert(identities=[phone("601234567"), Identity.of("email", "kasia@example.pl")]),
        actor="salon-system",
    )
    d = await client_store.identify([Identity.of("telegram", "555")])
    await client_store.merge(d.id, a.id, actor="anna")
    entries, total = await audit_log.entries(AuditFilter(action="client.merge"))
    assert total == 3
    described = [(e.actor, e.target, e.detail) for e in reversed(entries)]
    assert described == [
        ("anna", f"client:{a.id}", {"absorbed": b.id, "cause": "link", "shared": "phone"}),
        ("salon-system", f"client:{a.id}", {"absorbed": c.id, "cause": "upsert", "shared": "email"}),
        ("anna", f"client:{a.id}", {"absorbed": d.id, "cause": "merge"}),
    ]
    assert not any("+48" in str(e.detail) or "@" in str(e.detail) for e in entries)


async def test_a_store_without_an_audit_log_refuses_to_merge_and_changes_nothing(
    event_store: EventStore, handoff_config: HandoffConfig
) -> None:
    store = ClientStore(event_store.engine, handoff_config.tiers)  # no audit log
    a = await store.identify([phone("601234567")])
    b = await store.identify([phone("512908114")])
    with pytest.raises(MergeRefused):
        await store.link(b.id, phone("601234567"))
    with pytest.raises(MergeRefused):
        await store.identify([phone("601234567"), phone("512908114")])
    assert sorted(await store.list_ids()) == sorted([a.id, b.id])
    assert (await store.get(b.id)).identities == [phone("512908114")]


async def test_upsert_by_external_id_updates_fields_and_merges_preferences(client_store: ClientStore) -> None:
    created = await client_store.upsert(
        ClientUpsert(
            external_id="MH-1",
            first_name="Emily",
            language="en",
            preferences={"massage": "deep tissue"},
            identities=[Identity.of("email", "emily@example.com")],
        )
    )
    updated = await client_store.upsert(
        ClientUpsert(
            external_id="MH-1",
            membership="gold",
            preferences={"pressure": "firm"},
            concierge_agent_id="piotr",
        )
    )
    assert updated.id == created.id
    assert updated.first_name == "Emily" and updated.language == "en"  # None leaves values alone
    assert updated.membership == "gold" and updated.tier == "Premium"
    assert updated.preferences == {"massage": "deep tissue", "pressure": "firm"}
    assert updated.concierge_agent_id == "piotr"


async def test_visits_are_idempotent_and_drive_the_tier(client_store: ClientStore) -> None:
    client = await client_store.identify([phone("601234567")])
    assert client.tier == "Standard"
    big = Visit(visited_on=TODAY - timedelta(days=30), category="hair", service="Balayage", amount=9000.0)
    await client_store.add_visit(client.id, big)
    await client_store.add_visit(client.id, big)  # the same visit reported twice
    await client_store.add_visit(
        client.id, Visit(visited_on=TODAY - timedelta(days=400), category="hair", amount=9000.0)
    )  # older than 12 months: history, not tier
    profile = await client_store.get(client.id)
    assert profile.visit_count == 2 and profile.visits_12m == 1
    assert profile.spend_12m == 9000.0
    assert (profile.tier, profile.tier_reason) == ("Premium", "spend 9 000 PLN in 12 months ≥ 5 000 PLN")
    assert profile.recent_visits[0].service == "Balayage"
    assert profile.first_visit == TODAY - timedelta(days=400)

    await client_store.add_visit(client.id, Visit(visited_on=TODAY, category="skin", amount=6000.25))
    assert (await client_store.get(client.id)).tier == "VIP"
    # a year later the same visits no longer count
    assert (await client_store.get(client.id, as_of=TODAY + timedelta(days=400))).tier == "Standard"


async def test_manual_override_and_notes(client_store: ClientStore) -> None:
    client = await client_store.upsert(ClientUpsert(tier_override="VIP", identities=[phone("601234567")]))
    await client_store.add_note(client.id, "anna.kowalska", "Called about the wedding package.")
    profile = await client_store.get(client.id)
    assert (profile.tier, profile.tier_reason) == ("VIP", "manual override")
    assert [(n.author, n.text) for n in profile.notes] == [
        ("anna.kowalska", "Called about the wedding package.")
    ]
    assert profile.notes[0].created_at.tzinfo is not None
    assert profile.display_name == "phone:+48601234567"


async def test_unknown_clients_are_reported(client_store: ClientStore) -> None:
    with pytest.raises(ClientNotFound):
        await client_store.get("nope")
    assert await client_store.find(phone("601234567")) is None


async def test_search_matches_every_word_in_names_ids_and_identities(client_store: ClientStore) -> None:
    ola = await client_store.upsert(
        ClientUpsert(
            external_id="MH-1", first_name="Ola", last_name="Wiśniewska", identities=[phone("601234567")]
        )
    )
    await client_store.upsert(
        ClientUpsert(
            first_name="Anna", last_name="Nowak", identities=[Identity.of("email", "anna_n@example.pl")]
        )
    )
    nameless = await client_store.identify([Identity.of("telegram", "@percent_100")])
    assert await client_store.search("wiś ola") == ([ola.id], 1)
    assert await client_store.search("601234") == ([ola.id], 1)
    assert await client_store.search("mh-1") == ([ola.id], 1)
    assert await client_store.search("ola nowak") == ([], 0)  # every word must match
    # LIKE's wildcards are matched literally: "_" is not "any character"
    assert await client_store.search("ol_") == ([], 0)  # as a wildcard it would match "Ola"
    assert await client_store.search("percent_1") == ([nameless.id], 1)
    everyone, total = await client_store.search("")
    assert total == 3 and everyone[-1] == ola.id  # by last name ("" sorts first)
    assert await client_store.search("", limit=1, offset=2) == ([ola.id], 3)


async def test_update_changes_and_clears_fields_and_refuses_a_taken_external_id(
    client_store: ClientStore,
) -> None:
    from handoff.clients import ClientChanges, ClientConflict

    first = await client_store.upsert(
        ClientUpsert(external_id="MH-1", tier_override="VIP", identities=[phone("601234567")])
    )
    second = await client_store.upsert(ClientUpsert(external_id="MH-2", identities=[phone("602345678")]))
    assert await client_store.lookup(ClientUpsert(identities=[phone("601 234 567")])) == first.id
    assert await client_store.lookup(ClientUpsert(external_id="MH-2")) == second.id
    assert await client_store.lookup(ClientUpsert(external_id="MH-3")) is None

    changed = await client_store.update(
        first.id, ClientChanges(tier_override=None, first_name="Ola", preferences={"drink": "tea"})
    )
    assert (changed.tier_override, changed.tier, changed.first_name) == (None, "Standard", "Ola")
    assert changed.preferences == {"drink": "tea"}
    cleared = await client_store.update(
        first.id, ClientChanges.model_validate({"first_name": None, "preferences": None})
    )
    assert (cleared.first_name, cleared.preferences, cleared.external_id) == ("", {}, "MH-1")
    with pytest.raises(ClientConflict):
        await client_store.update(first.id, ClientChanges(external_id="MH-2"))
    assert (await client_store.get(first.id)).external_id == "MH-1"
    with pytest.raises(ClientNotFound):
        await client_store.update("nope", ClientChanges(language="pl"))
