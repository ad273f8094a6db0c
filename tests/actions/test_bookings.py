"""The demo bot's bookings repository (actions/bookings.py) on a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from actions.bookings import BookingRepository, bookings_url
from actions.mariia_catalog import STUDIO_TZ, Catalog


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bookings.db'}"


def stored_rows(url: str) -> list[dict[str, object]]:
    """What is in the bookings table, read with a plain (sync) connection."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                dict(r) for r in conn.execute(text("SELECT * FROM bookings ORDER BY reference")).mappings()
            ]
    finally:
        engine.dispose()


def test_url_comes_from_the_environment_with_an_async_driver() -> None:
    assert bookings_url({}) == "sqlite+aiosqlite:///.concierge/bookings.db"
    assert bookings_url({"CONCIERGE_BOOKINGS_URL": "sqlite:////srv/b.db"}) == "sqlite+aiosqlite:////srv/b.db"
    assert bookings_url({"CONCIERGE_BOOKINGS_URL": "postgresql://u@db/x"}) == "postgresql+psycopg://u@db/x"
    assert bookings_url({"CONCIERGE_BOOKINGS_URL": "sqlite+aiosqlite:///a.db"}) == "sqlite+aiosqlite:///a.db"


async def test_default_database_is_created_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONCIERGE_BOOKINGS_URL", raising=False)
    async with BookingRepository() as repo:
        assert await repo.get("MH-10001") is not None
    assert (tmp_path / ".concierge" / "bookings.db").is_file()


async def test_empty_table_is_seeded_with_the_demo_bookings(db_url: str) -> None:
    async with BookingRepository(db_url) as repo:
        upcoming = await repo.get("mh 10001")
        late = await repo.get("MH-10003")
        cancelled = await repo.get("MH-10004")
    now = datetime.now(STUDIO_TZ)
    assert upcoming is not None and upcoming.status == "booked" and upcoming.service == "massage_relaxing"
    assert upcoming.starts_at - now > timedelta(days=2)
    assert late is not None and timedelta(0) < late.starts_at - now < timedelta(hours=24)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert [r["reference"] for r in stored_rows(db_url)] == ["MH-10001", "MH-10002", "MH-10003", "MH-10004"]
    # A second repository does not seed again.
    async with BookingRepository(db_url) as repo:
        await repo.get("MH-10001")
    assert len(stored_rows(db_url)) == 4


async def test_create_cancel_and_reschedule_are_stored(db_url: str) -> None:
    catalog = Catalog.load()
    start = datetime(2030, 6, 12, 15, tzinfo=STUDIO_TZ)
    async with BookingRepository(db_url) as repo:
        booking = await repo.create(
            catalog.services["balayage"], "warsaw_mokotow", start, client_name="Anna", sender_id="chat-1"
        )
        assert booking.reference.startswith("MH-") and len(booking.reference) == 8
        assert booking.local_start == start and booking.deposit_pln == 225
        moved = await repo.reschedule(booking.reference, start + timedelta(days=1), fee_pln=0)
        assert moved is not None and moved.local_start == start + timedelta(days=1)
        cancelled = await repo.cancel(booking.reference, fee_pln=375)
        assert cancelled is not None and cancelled.status == "cancelled"
        assert [b.reference for b in await repo.for_sender("chat-1")] == [booking.reference]
        assert await repo.cancel("MH-99999", 0) is None
    row = next(r for r in stored_rows(db_url) if r["reference"] == booking.reference)
    assert (row["status"], row["fee_pln"], row["price_pln"], row["sender_id"]) == (
        "cancelled",
        375,
        750,
        "chat-1",
    )
