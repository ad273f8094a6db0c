"""Response times counted in business hours only: the seconds between two moments during
which the studio was open (its hours in its own time zone, holidays closed).

A client who writes on Saturday night and gets a reply at 09:02 on Monday waited two minutes
of the team's time, not 37 hours: first and next human response are measured on this clock
when the report is business-hours aware (``analytics.business_hours`` in ``handoff.yml``,
on by default). The hours are the ones routing reads (``handoff.config.Location``), so the
studio's hours live in one place.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from handoff.config import WEEKDAYS, HandoffConfig, Location

#: a wait longer than this is measured only over its first MAX_DAYS days (bounded work)
MAX_DAYS = 400


def _day_spans(location: Location, day: dt.date, zone: ZoneInfo) -> list[tuple[float, float]]:
    """The open spans of ``day`` as epoch-second pairs ("24:00" closes at midnight)."""
    if day in location.closed_dates:
        return []
    spans = []
    for span in location.hours.get(WEEKDAYS[day.weekday()], []):
        start, end = span.split("-")
        opens = dt.datetime.combine(day, dt.time.fromisoformat(start), zone)
        if end == "24:00":
            closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
        else:
            closes = dt.datetime.combine(day, dt.time.fromisoformat(end), zone)
        spans.append((opens.timestamp(), closes.timestamp()))
    return spans


def open_seconds(location: Location, start: float, end: float, *, cap: float | None = None) -> float:
    """Seconds of ``[start, end]`` (epoch seconds) during which ``location`` was open; with
    ``cap``, counting stops once the total reaches it (enough to say "past the SLA")."""
    if end <= start:
        return 0.0
    zone = ZoneInfo(location.timezone)
    day = dt.datetime.fromtimestamp(start, zone).date()
    last = dt.datetime.fromtimestamp(end, zone).date()
    total = 0.0
    for _ in range(MAX_DAYS):
        for opens, closes in _day_spans(location, day, zone):
            total += max(0.0, min(closes, end) - max(opens, start))
        if day >= last or (cap is not None and total >= cap):
            break
        day += dt.timedelta(days=1)
    return total


class ResponseClock:
    """How long a client waited: wall-clock seconds, or open seconds of their studio."""

    def __init__(self, config: HandoffConfig, *, business_hours: bool) -> None:
        self.config = config
        self.business_hours = business_hours

    def location(self, location_id: str | None) -> Location:
        """The client's home studio, else the default one."""
        return self.config.locations.get(
            location_id or "", self.config.locations[self.config.default_location]
        )

    def waited(self, start: float, end: float, location_id: str | None, *, cap: float | None = None) -> float:
        """Seconds from ``start`` to ``end`` on this clock (``cap``: see :func:`open_seconds`)."""
        if not self.business_hours:
            return max(0.0, end - start)
        return open_seconds(self.location(location_id), start, end, cap=cap)
