"""The demo bot's bookings: a small repository over one SQL table (SQLAlchemy 2, async).

The table's URL comes from ``CONCIERGE_BOOKINGS_URL`` (default: the SQLite file
``.concierge/bookings.db`` in the current directory). An empty table is seeded with
the demo bookings of ``data/demo/bookings.csv``, so cancelling and moving work in the
demo straight away. There is no module-level engine: each repository creates its own
on first use and disposes of it on exit.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import DateTime, Integer, String, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from actions.mariia_catalog import DEMO_DATA_DIR, STUDIO_TZ, Catalog, Service, find_reference

BOOKINGS_URL_ENV = "CONCIERGE_BOOKINGS_URL"
DEFAULT_BOOKINGS_PATH = Path(".concierge") / "bookings.db"


# ---- the bookings table ----------------------------------------------------------------


class _Base(DeclarativeBase):
    pass


class BookingRow(_Base):
    """A booking as stored; times are UTC."""

    __tablename__ = "bookings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    service: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_min: Mapped[int] = mapped_column(Integer)
    price_pln: Mapped[int] = mapped_column(Integer)
    deposit_pln: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    fee_pln: Mapped[int] = mapped_column(Integer, default=0)
    client_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    sender_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Booking(BaseModel):
    """A booking as the actions see it (never the table row itself)."""

    model_config = ConfigDict(from_attributes=True)
    reference: str
    service: str
    location: str
    starts_at: datetime
    duration_min: int
    price_pln: int
    deposit_pln: int = 0
    status: Literal["booked", "cancelled"] = "booked"
    fee_pln: int = 0
    client_name: str | None = None
    sender_id: str | None = None

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # SQLite hands back naive datetimes; they were written as UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    @property
    def local_start(self) -> datetime:
        """The start in the studios' time zone."""
        return self.starts_at.astimezone(STUDIO_TZ)


def bookings_url(environ: Mapping[str, str] | None = None) -> str:
    """The bookings database URL: ``CONCIERGE_BOOKINGS_URL`` or the default SQLite file."""
    env = os.environ if environ is None else environ
    return async_url(env.get(BOOKINGS_URL_ENV) or f"sqlite:///{DEFAULT_BOOKINGS_PATH}")


def async_url(url: str) -> str:
    """``url`` with an async driver: ``sqlite`` -> ``sqlite+aiosqlite``, ``postgresql`` -> ``+psycopg``."""
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class BookingRepository:
    """The bookings table: create, find, cancel and move bookings.

    Use it as ``async with BookingRepository() as repo:``; the engine is created on
    first use and disposed on exit, so nothing outlives one action run. The table is
    created, and seeded from ``seed_dir/bookings.csv`` when empty, on first use.
    """

    def __init__(self, url: str | None = None, seed_dir: Path | None = None) -> None:
        self.url = async_url(url) if url else bookings_url()
        self.seed_dir = seed_dir if seed_dir is not None else DEMO_DATA_DIR
        self._engine: AsyncEngine | None = None

    async def __aenter__(self) -> BookingRepository:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Dispose of the engine (and its connections)."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _ready(self) -> AsyncEngine:
        if self._engine is None:
            database = (
                self.url.split("///", 1)[1] if self.url.startswith("sqlite") and "///" in self.url else ""
            )
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_async_engine(self.url)
            async with self._engine.begin() as conn:
                await conn.run_sync(_Base.metadata.create_all)
            await self._seed()
        return self._engine

    async def _seed(self) -> None:
        path = self.seed_dir / "bookings.csv" if self.seed_dir else None
        if path is None or not path.is_file():
            return
        assert self._engine is not None
        async with self._engine.begin() as conn:
            if (await conn.execute(select(func.count()).select_from(BookingRow))).scalar_one():
                return
            catalog = Catalog.load(self.seed_dir)
            now = datetime.now(STUDIO_TZ)
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    service = catalog.services[row["service"]]
                    await conn.execute(
                        insert(BookingRow).values(
                            reference=row["reference"],
                            service=service.key,
                            location=row["location"],
                            starts_at=_seed_start(row, now).astimezone(UTC),
                            duration_min=service.duration_min,
                            price_pln=service.price_pln,
                            deposit_pln=service.deposit_pln,
                            status=row.get("status") or "booked",
                            fee_pln=0,
                            client_name=row.get("client_name") or None,
                        )
                    )

    async def create(
        self,
        service: Service,
        location: str,
        starts_at: datetime,
        *,
        client_name: str | None = None,
        sender_id: str | None = None,
    ) -> Booking:
        """Store a new booking with a fresh ``MH-NNNNN`` reference."""
        engine = await self._ready()
        for _ in range(20):
            reference = f"MH-{10000 + secrets.randbelow(90000)}"
            try:
                async with engine.begin() as conn:
                    await conn.execute(
                        insert(BookingRow).values(
                            reference=reference,
                            service=service.key,
                            location=location,
                            starts_at=starts_at.astimezone(UTC),
                            duration_min=service.duration_min,
                            price_pln=service.price_pln,
                            deposit_pln=service.deposit_pln,
                            status="booked",
                            fee_pln=0,
                            client_name=client_name,
                            sender_id=sender_id,
                        )
                    )
            except IntegrityError:
                continue  # the reference is taken; draw another
            found = await self.get(reference)
            assert found is not None
            return found
        raise RuntimeError("could not find a free booking reference")

    async def get(self, reference: str) -> Booking | None:
        """The booking with this reference (any spelling ``find_reference`` accepts), or None."""
        normalised = find_reference(reference) or reference
        engine = await self._ready()
        async with engine.connect() as conn:
            row = (
                (await conn.execute(select(BookingRow.__table__).where(BookingRow.reference == normalised)))
                .mappings()
                .first()
            )
        return Booking.model_validate(dict(row)) if row else None

    async def cancel(self, reference: str, fee_pln: int) -> Booking | None:
        """Mark the booking cancelled with the fee charged; None when there is no such booking."""
        return await self._update(reference, status="cancelled", fee_pln=fee_pln)

    async def reschedule(self, reference: str, starts_at: datetime, fee_pln: int) -> Booking | None:
        """Move the booking to ``starts_at``, adding ``fee_pln`` to its fees; None when unknown."""
        current = await self.get(reference)
        if current is None:
            return None
        return await self._update(
            reference, starts_at=starts_at.astimezone(UTC), fee_pln=current.fee_pln + fee_pln
        )

    async def for_sender(self, sender_id: str) -> list[Booking]:
        """Upcoming and past bookings made in one conversation, oldest first."""
        engine = await self._ready()
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(BookingRow.__table__)
                    .where(BookingRow.sender_id == sender_id)
                    .order_by(BookingRow.starts_at)
                )
            ).mappings()
            return [Booking.model_validate(dict(row)) for row in rows]

    async def _update(self, reference: str, **values: object) -> Booking | None:
        normalised = find_reference(reference) or reference
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                update(BookingRow).where(BookingRow.reference == normalised).values(**values)
            )
        if not result.rowcount:
            return None
        return await self.get(normalised)


def _seed_start(row: dict[str, str], now: datetime) -> datetime:
    """A demo booking's start relative to ``now``: ``days_ahead`` at ``start``, or
    ``hours_ahead`` rounded up to the half hour (to show the late-cancellation fee)."""
    if row.get("hours_ahead"):
        moment = now + timedelta(hours=float(row["hours_ahead"]))
        minutes = 30 - moment.minute % 30
        return (moment + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    day = (now + timedelta(days=int(row["days_ahead"]))).date()
    return datetime.combine(day, time.fromisoformat(row["start"]), STUDIO_TZ)
