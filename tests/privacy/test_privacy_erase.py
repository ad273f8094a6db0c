"""Export and erase of one client seeded across every channel and store, on SQLite and PostgreSQL.

After the erase, every row of every table in the schema, every file under the attachment
folder and every captured log line is searched for the client's phone (in several
notations), e-mail and name: nothing is left. Another client's data is untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, inspect, select, text

from bot.channels.addresses import AddressBook
from bot.channels.media import recorded_attachment
from bot.events import BotUttered, UserUttered
from bot.models import ContactHints, InboundMessage
from bot.redact import conversation_ref
from bot.store import EventStore
from console.audit import AuditFilter, AuditLog
from handoff.projections import handoff_projectors
from privacy import logs
from privacy.erasers import default_erasers
from privacy.erasers.bookings import BookingEraser
from privacy.service import PrivacyService
from privacy.subject import SubjectNotFound
from tests.privacy.seed import Person, seed_person


@pytest.fixture
def redacted_logs() -> Iterator[None]:
    """Log records masked as the server masks them (create_app / main install this)."""
    logs.install()
    try:
        yield
    finally:
        logs.uninstall()


async def every_row_text(store: EventStore) -> dict[str, list[str]]:
    """Every row of every table in the schema, as lower-case text, by table."""

    def tables(sync) -> list[Table]:  # type: ignore[no-untyped-def]
        metadata = MetaData()
        return [Table(name, metadata, autoload_with=sync) for name in inspect(sync).get_table_names()]

    found: dict[str, list[str]] = {}
    async with store.engine.connect() as conn:
        for table in await conn.run_sync(tables):
            rows = (await conn.execute(select(table))).all()
            found[table.name] = [
                json.dumps(
                    [str(v) if not isinstance(v, dict | list) else v for v in row], ensure_ascii=False
                ).lower()
                for row in rows
            ]
    return found


def hits(texts: dict[str, list[str]], person: Person) -> list[tuple[str, str]]:
    return [
        (table, needle)
        for table, rows in texts.items()
        for row in rows
        for needle in person.needles
        if needle.lower() in row
    ]


def file_hits(folder: Path, person: Person) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "replace").lower() + str(path).lower()
            found += [f"{path.name}: {n}" for n in person.needles if n.lower() in content]
    return found


async def seed_two(store: EventStore, files: Path, bookings: str | None = None) -> tuple[Person, Person]:
    ottilie = await seed_person(
        store,
        files,
        phone="+48 601 234 567",
        email="ottilie.q@example.org",
        first="Ottilie",
        last="Quennell",
        handle="ottilie_q",
        numeric="555000111",
        bookings_url=bookings,
    )
    bart = await seed_person(
        store,
        files,
        phone="602-345-678",
        email="bart.z@example.com",
        first="Bartholomew",
        last="Zaleski",
        handle="bart_z",
        numeric="555000222",
        bookings_url=bookings,
    )
    return ottilie, bart


async def test_export_holds_everything_then_erase_leaves_no_trace(
    store: EventStore, tmp_path: Path, caplog: pytest.LogCaptureFixture, redacted_logs: None
) -> None:
    for package in ("bot", "handoff", "knowledge", "console", "privacy"):  # our own code, every level
        caplog.set_level(logging.DEBUG, logger=package)
    for projector in handoff_projectors():  # the read models follow every append, as in the server
        store.add_projector(projector)
    files = tmp_path / "attachments"
    bookings_db = f"sqlite:///{tmp_path / 'bookings.db'}"
    ottilie, bart = await seed_two(store, files, bookings_db)
    # someone else claims her phone and e-mail (unverified hints) and quotes her name
    claim = "I am Ottilie Quennell, write to ottilie.q@example.org or call 601-234-567"
    hints = ContactHints(name="Ottilie Quennell", phone="+48 601 234 567", email="Ottilie.Q@example.org")
    spoof = InboundMessage(channel="rest", sender_id="attacker-1", text=claim, hints=hints)
    await store.record_inbound(spoof)
    unverified = {"unverified_contact": hints.model_dump(exclude_none=True)}
    await store.append(
        spoof.conversation_id, [UserUttered(text=claim, metadata=unverified), BotUttered(text="Hi!")]
    )
    # a real code path that logs a conversation id (an unreadable attachment list)
    unreadable = UserUttered(text="x", metadata={"attachments": "{oops"})
    (seq,) = await store.append(ottilie.conversations[0], [unreadable])
    assert await recorded_attachment(store, ottilie.conversations[0], seq, 0) is None
    service = PrivacyService(
        store.engine, erasers=default_erasers([files]), other_stores=[BookingEraser(bookings_db)]
    )
    bookings = EventStore.from_url(bookings_db)  # the demo actions' database, searched like ours
    before = {**await every_row_text(store), **await every_row_text(bookings)}
    seeded = {
        "conversations", "events", "inbound_messages", "outbox", "kb_gaps", "clients",
        "client_identities", "client_notes", "client_visits", "console_audit", "bookings",
        "conversation_facts", "channel_addresses", "kb_gap_clusters",
    }  # fmt: skip
    assert {table for table, _ in hits(before, ottilie)} >= seeded - {"client_visits"}
    assert hits(before, bart)

    # ---- export: every kind holds them, found from any notation of the phone
    archive = await service.export("0048 601-234-567", actor="root", actor_role="admin")
    assert archive["subject"]["client_id"] == ottilie.client_id
    assert set(archive["subject"]["conversation_ids"]) == set(ottilie.conversations)
    data = archive["data"]
    kinds = (
        "client_profiles",
        "conversations",
        "outbox",
        "knowledge_gaps",
        "attachments",
        "audit",
        "bookings",
        "channel_addresses",
    )
    for kind in kinds:
        assert data[kind], kind
    profiles = json.dumps(data["client_profiles"]).lower()
    for needle in (ottilie.phone_e164, ottilie.email, "ottilie", "quennell"):
        assert needle in profiles
    chats = json.dumps(data["conversations"], ensure_ascii=False).lower()
    assert all(n in chats for n in ("+48 601 234 567", ottilie.email, "ottilie quennell"))
    # the outbox row names the conversation by its opaque id; the phone is on file beside it
    outbox_rows = json.dumps(data["outbox"])
    assert "See you soon, Ottilie" in outbox_rows and ottilie.phone_e164 not in outbox_rows
    addresses = json.dumps(data["channel_addresses"])
    assert ottilie.phone_e164 in addresses and ottilie.email in addresses
    assert "quennell" in json.dumps(data["knowledge_gaps"]).lower()
    assert "Quennell" in __import__("base64").b64decode(data["attachments"][0]["content_base64"]).decode()
    assert "601 234 567" in json.dumps(data["audit"])
    assert [b["client_name"] for b in data["bookings"]] == ["Ottilie Quennell"]
    everything = json.dumps(archive, ensure_ascii=False).lower()
    assert "bartholomew" not in everything and "602345678" not in everything  # only hers

    # ---- erase by e-mail: the same person
    report = await service.erase("Ottilie.Q@example.org", actor="root", actor_role="admin")
    assert report.subject == f"client:{ottilie.client_id}"
    assert report.conversations == len(ottilie.conversations)
    assert report.removed["attachments"] == 1 and report.removed["client_profiles"] > 0
    assert report.removed["bookings"] == 1
    assert report.removed["mentions"] == 2  # the claim's journal row and event, scrubbed in place
    assert "rest:attacker-1" not in archive["subject"]["conversation_ids"]

    after = {**await every_row_text(store), **await every_row_text(bookings)}
    await bookings.close()
    assert hits(after, ottilie) == []
    assert file_hits(files, ottilie) == []
    warned = [r.getMessage() for r in caplog.records if "unreadable attachments" in r.getMessage()]
    assert warned == [
        f"media: unreadable attachments recorded at {conversation_ref(ottilie.conversations[0])} seq {seq}"
    ]
    log_text = "\n".join(r.getMessage() for r in caplog.records).lower() + caplog.text.lower()
    assert [n for n in ottilie.needles if n.lower() in log_text] == []
    # the other person's conversation stays, without her data
    assert any("rest:attacker-1" in row for row in after["conversations"])
    assert any("i am [erased], write to [erased] or call [erased]" in row for row in after["events"])
    # the other client is untouched: same rows that name him, his file still there
    assert sorted(hits(after, bart)) == sorted(hits(before, bart))
    assert bart.attachment is not None and bart.attachment.is_file()
    # the audit keeps that an erase happened, by whom and when, without the data
    entries, _ = await AuditLog(store.engine).entries(AuditFilter(action="privacy.*"))
    erase = next(e for e in entries if e.action == "privacy.erase")
    assert (erase.actor, erase.actor_role, erase.target) == ("root", "admin", f"client:{ottilie.client_id}")
    with pytest.raises(SubjectNotFound):
        await service.export(ottilie.email, actor="root")


async def test_a_file_two_people_sent_stays_for_the_other(store: EventStore, tmp_path: Path) -> None:
    files = tmp_path / "attachments"
    ottilie, bart = await seed_two(store, files)
    # Bart mails the very same file (content-addressed: one file on disk)
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT data FROM events WHERE conversation_id = :c AND type = 'user'"),
                {"c": await AddressBook(store.engine).conversation_id("email", ottilie.email)},
            )
        ).first()
    assert row is not None
    data = row.data if isinstance(row.data, dict) else json.loads(row.data)
    shared = UserUttered(text="forwarding this", metadata=data["metadata"])
    await store.append(await AddressBook(store.engine).conversation_id("email", bart.email), [shared])
    service = PrivacyService(store.engine, erasers=default_erasers([files]))
    report = await service.erase(ottilie.client_id, actor="cli")
    assert report.removed["attachments"] == 0
    assert ottilie.attachment is not None and ottilie.attachment.is_file()


async def test_an_unknown_reference_names_nobody(store: EventStore, tmp_path: Path) -> None:
    service = PrivacyService(store.engine, erasers=default_erasers([tmp_path]))
    for raw in ("", "no-such-client", "+48 699 999 999", "nobody@example.com", "a\x00b", "telegram:@@"):
        with pytest.raises(SubjectNotFound):
            await service.erase(raw, actor="cli")
