"""An erase is recorded before it runs and finished part by part, so one store failing (the
bookings database locked by another writer: a real failure, not a stand-in) leaves the request
pending, named in the report, and the retention job completes it: 0 traces in the end, on
SQLite and PostgreSQL. The audit log is read through its subject index: an erase touches only
the entries about its subject."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select

from bot.audit import AuditLog, audit, subject_of
from bot.store import EventStore
from privacy.base import ERASED
from privacy.erasers import default_erasers
from privacy.erasers.bookings import BookingEraser
from privacy.erasures import METADATA, erasures
from privacy.service import PrivacyService
from tests.privacy.test_privacy_erase import every_row_text, file_hits, hits, seed_two


async def test_an_erase_a_store_refused_is_resumed_to_no_trace(store: EventStore, tmp_path: Path) -> None:
    files = tmp_path / "attachments"
    bookings_path = tmp_path / "bookings.db"
    bookings_db = f"sqlite:///{bookings_path}"
    ottilie, bart = await seed_two(store, files, bookings_db)
    service = PrivacyService(
        store.engine, erasers=default_erasers([files]), other_stores=[BookingEraser(bookings_db)]
    )
    bookings = EventStore.from_url(bookings_db)
    # another writer holds the bookings database (SQLite: an exclusive transaction)
    holder = sqlite3.connect(bookings_path, timeout=0)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        report = await service.erase(ottilie.email, actor="root", actor_role="admin")
        assert report.pending == ["bookings"]
        assert report.removed["client_profiles"] > 0 and report.removed["files"] == 1
    finally:
        holder.rollback()
        holder.close()
    # the main database's part is done; the booking is still there, and the request says so
    left = {**await every_row_text(store), **await every_row_text(bookings)}
    assert {table for table, _ in hits(left, ottilie)} == {"bookings", "privacy_erasures"}
    assert file_hits(files, ottilie) == []
    async with store.engine.connect() as conn:
        pending = (await conn.execute(select(erasures))).one()
    assert (pending.status, pending.pending, pending.attempts) == ("pending", ["bookings"], 1)
    assert pending.last_error == "OperationalError"  # the class, never the message

    # the scheduled job does not race an erase in progress; an explicit (or later) run resumes it
    assert (await service.scheduled_retention()).resumed == 0
    resumed = await service.retention()
    assert resumed.resumed == 1
    after = {**await every_row_text(store), **await every_row_text(bookings)}
    await bookings.close()
    assert hits(after, ottilie) == []
    assert sorted(hits(after, bart)) == sorted(hits(left, bart))
    async with store.engine.connect() as conn:
        done = (await conn.execute(select(erasures))).one()
    assert (done.status, done.pending, done.work) == ("done", [], None)
    assert done.removed["bookings"] == 1 and done.target == f"client:{ottilie.client_id}"
    # a second resume finds nothing to do
    assert await service.resume_erasures() == 0


async def test_the_audit_subject_index_scopes_an_erase(store: EventStore, tmp_path: Path) -> None:
    assert subject_of("client:c1") == "client:c1"
    assert subject_of("conversation:whatsapp:abc") == "conversation:whatsapp:abc"
    assert subject_of("user:anna") is None and subject_of("article:parking") is None
    files = tmp_path / "attachments"
    ottilie, bart = await seed_two(store, files)
    log = AuditLog(store.engine)
    await log.record("anna", "auth.login", "user:anna", {"ip": "10.0.0.1"})

    async def rows() -> dict[int, tuple]:  # type: ignore[type-arg]
        async with store.engine.connect() as conn:
            found = await conn.execute(select(audit).order_by(audit.c.id))
            return {r.id: (r.target, r.subject, r.detail) for r in found}

    before = await rows()
    theirs = {f"client:{ottilie.client_id}"} | {f"conversation:{c}" for c in ottilie.conversations}
    about_her = {i for i, (_, subject, _) in before.items() if subject in theirs}
    # her merge, her two profile updates and the reply in her conversation
    assert len(about_her) == 4
    assert all(subject == subject_of(target) for target, subject, _ in before.values())

    service = PrivacyService(store.engine, erasers=default_erasers([files]))
    report = await service.erase(ottilie.client_id, actor="root", actor_role="admin")
    assert report.removed["audit"] == len(about_her)
    after = await rows()
    changed = {i for i in before if after.get(i) != before[i]}
    assert changed == about_her  # nothing else was touched
    for i in about_her:
        target, subject, detail = after[i]
        assert ERASED in str(detail) or detail == {}
        assert target.startswith("client:") or (target, subject) == (f"conversation:{ERASED}", None)
    # the record of the erase stays, under her opaque id
    new = [after[i] for i in after if i not in before]
    assert [(t, s) for t, s, _ in new] == [(f"client:{ottilie.client_id}",) * 2]
    texts = await every_row_text(store)
    assert hits(texts, ottilie) == []
    assert hits(texts, bart)


async def test_the_erasures_table_matches_its_revision(store: EventStore) -> None:
    def drift(connection: Connection) -> list[object]:
        def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
            return type_ != "table" or name == "privacy_erasures"

        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
        return list(compare_metadata(context, METADATA))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(drift) == []
