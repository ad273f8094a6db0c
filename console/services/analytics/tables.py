"""Tables of the analytics service: managers' report subscriptions (revision ``0014``).

- ``analytics_subscriptions``: who gets which scheduled report (daily or weekly), and the
  last period sent to them, so a round that runs twice (two processes, a restart) never
  sends the same period twice: the row is claimed by an update that moves ``last_period``.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint

from bot.store.tables import NAMING_CONVENTION, UTCDateTime

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

subscriptions = Table(
    "analytics_subscriptions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("frequency", String(8), nullable=False),  # daily | weekly
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # the last period sent ("2026-12-06" for a day, "2026-W49" for a week) and when
    Column("last_period", String(16), nullable=True),
    Column("last_sent_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("email", "frequency"),
)
