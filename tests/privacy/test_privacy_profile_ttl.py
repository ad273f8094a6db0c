"""Client profiles have a time to live per tier, from the client's last activity: the retention
job erases a stale profile through the same erasers as an erase request (0 traces in any
table, the bookings database or the files), and keeps a recent one, a VIP within the VIP's
longer TTL and a client whose profile is old but who wrote today; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.audit import AuditFilter, AuditLog
from bot.channels.tables import channel_addresses
from bot.store import EventStore
from bot.store.tables import conversations
from handoff.tables import client_notes, client_visits, clients
from privacy.config import PrivacyConfig, RetentionConfig
from privacy.erasers import default_erasers
from privacy.erasers.bookings import BookingEraser
from privacy.erasures import erasures
from privacy.service import PrivacyService
from tests.privacy.seed import Person, seed_person
from tests.privacy.test_privacy_erase import every_row_text, file_hits, hits

NOW = datetime.now(UTC)


async def last_active(store: EventStore, person: Person, days: int, *, chats: bool = True) -> None:
    """Make everything of ``person`` (profile, visits, notes and, with ``chats``, their
    conversations) ``days`` old."""
    then = NOW - timedelta(days=days)
    async with store.engine.begin() as conn:
        family = [
            person.client_id,
            *(
                await conn.execute(select(clients.c.id).where(clients.c.merged_into == person.client_id))
            ).scalars(),
        ]
        await conn.execute(update(clients).where(clients.c.id.in_(family)).values(updated_at=then))
        await conn.execute(
            update(client_visits).where(client_visits.c.client_id.in_(family)).values(visited_on=then.date())
        )
        await conn.execute(
            update(client_notes).where(client_notes.c.client_id.in_(family)).values(created_at=then)
        )
        if not chats:
            return
        opaque = [c for c in person.conversations if not c.startswith("whatsapp:+")]
        on_file = select(channel_addresses.c.conversation_id).where(
            channel_addresses.c.conversation_id.in_(opaque)
        )
        ids = set((await conn.execute(on_file)).scalars()) | set(person.conversations)
        await conn.execute(update(conversations).where(conversations.c.id.in_(ids)).values(updated_at=then))


async def test_a_stale_profile_is_erased_a_recent_one_and_a_vip_within_ttl_are_kept(
    store: EventStore, tmp_path: Path
) -> None:
    files = tmp_path / "attachments"
    bookings_db = f"sqlite:///{tmp_path / 'bookings.db'}"
    stale = await seed_person(
        store, files, phone="+48 601 234 567", email="ottilie.q@example.org", first="Ottilie",
        last="Quennell", handle="ottilie_q", numeric="555000111", bookings_url=bookings_db,
    )  # fmt: skip
    recent = await seed_person(
        store, files, phone="602-345-678", email="bart.z@example.com", first="Bartholomew",
        last="Zaleski", handle="bart_z", numeric="555000222", bookings_url=bookings_db,
    )  # fmt: skip
    vip = await seed_person(
        store, files, phone="603 456 789", email="vera.v@example.net", first="Veronika",
        last="Wojciechowska", handle="vera_v", numeric="555000333", bookings_url=bookings_db,
    )  # fmt: skip
    chatty = await seed_person(
        store, files, phone="604 567 890", email="cyra.c@example.net", first="Cyrana",
        last="Chmielewska", handle="cyra_c", numeric="555000444",
    )  # fmt: skip
    async with store.engine.begin() as conn:
        await conn.execute(update(clients).where(clients.c.id == vip.client_id).values(tier_override="VIP"))
    # 800 days: past Standard's 730, within VIP's 1095 (conversations too: theirs expire with them)
    await last_active(store, stale, 800)
    await last_active(store, vip, 800)
    await last_active(store, chatty, 800, chats=False)  # her profile is old, she wrote today
    config = PrivacyConfig(
        retention=RetentionConfig(
            conversations_days={"VIP": 1095, "Premium": 730, "Standard": 730},
            profiles_days={"VIP": 1095, "Premium": 730, "Standard": 730},
        )
    )
    service = PrivacyService(
        store.engine,
        erasers=default_erasers([files]),
        other_stores=[BookingEraser(bookings_db)],
        config=config,
        clock=lambda: NOW,
    )
    bookings = EventStore.from_url(bookings_db)
    try:
        before = {**await every_row_text(store), **await every_row_text(bookings)}
        assert hits(before, stale) and hits(before, vip) and hits(before, recent)

        dry = await service.retention(dry_run=True)
        assert dry.profiles == 1
        assert hits({**await every_row_text(store), **await every_row_text(bookings)}, stale)

        report = await service.retention()
        assert report.ran and report.profiles == 1
        assert report.removed["client_profiles"] > 0 and report.removed["bookings"] == 1
        after = {**await every_row_text(store), **await every_row_text(bookings)}
    finally:
        await bookings.close()
    assert hits(after, stale) == []
    assert file_hits(files, stale) == []
    # the recent client and the VIP are untouched
    assert sorted(hits(after, recent)) == sorted(hits(before, recent))
    assert sorted(hits(after, vip)) == sorted(hits(before, vip))
    assert sorted(hits(after, chatty)) == sorted(hits(before, chatty))
    async with store.engine.connect() as conn:
        left = set(
            (await conn.execute(select(clients.c.id).where(clients.c.merged_into.is_(None)))).scalars()
        )
        requests = (await conn.execute(select(erasures))).all()
    assert left == {recent.client_id, vip.client_id, chatty.client_id}
    # done like an erase request: recorded, finished, its working data cleared
    assert [(r.actor, r.target, r.status, r.pending, r.work) for r in requests] == [
        ("system", f"client:{stale.client_id}", "done", [], None)
    ]
    entries, _ = await AuditLog(store.engine).entries(AuditFilter(action="privacy.erase"))
    assert [(e.actor, e.target) for e in entries] == [("system", f"client:{stale.client_id}")]

    again = await service.retention()
    assert again.profiles == 0 and again.conversations == 0
