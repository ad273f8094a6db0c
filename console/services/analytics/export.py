"""Per-conversation CSV: one row per conversation with its facts (the report's drill-down)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from console.services.analytics.models import FactRow
from handoff.outcomes import reason_words

COLUMNS = (
    "conversation_id",
    "channel",
    "tier",
    "language",
    "agent_id",
    "started_at",
    "outcome",
    "confirmed",
    "first_contact_resolution",
    "handoffs",
    "handoff_reason",
    "first_human_response_seconds",
    "sla_seconds",
    "within_sla",
    "answers",
    "fallbacks",
    "csat_requested",
    "csat_score",
    "sentiment_start",
    "sentiment_end",
)
#: a cell starting with one of these is a formula to a spreadsheet (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def facts_csv(rows: Iterable[FactRow]) -> str:
    """The CSV text (header first) of the conversations' facts, times in ISO 8601 UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.model_dump()
        values["started_at"] = dt.datetime.fromtimestamp(row.started_at, dt.UTC).isoformat()
        values["outcome"] = row.outcome.value
        values["handoff_reason"] = reason_words(row.handoff_reason) if row.handoffs else None
        writer.writerow([_cell(values[c]) for c in COLUMNS])
    return out.getvalue()
