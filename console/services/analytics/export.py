"""CSV: one row per conversation with its facts (the report's drill-down), and each table of
the report on its own (per-report downloads)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from console.services.analytics.models import AnalyticsReport, FactRow, TierResponse
from handoff.outcomes import Outcome, reason_words
from handoff.quality import CATEGORIES

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
    "first_human_response_business_seconds",
    "next_responses",
    "next_response_median_seconds",
    "location",
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


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


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
        values["next_responses"] = len(row.next_response_seconds) if row.handoffs else None
        values["next_response_median_seconds"] = _median(row.next_response_seconds)
        writer.writerow([_cell(values[c]) for c in COLUMNS])
    return out.getvalue()


#: the report's tables a manager can download, by name
REPORT_TABLES = (
    "period",
    "tier",
    "channel",
    "language",
    "agent",
    "first_response",
    "reasons",
    "csat_by_tier",
    "outcomes",
    "quality",
)
KPI_COLUMNS = (
    "key",
    "start",
    "end",
    "volume",
    "rated",
    "contained",
    "containment_rate",
    "resolved_by_person",
    "resolution_rate",
    "first_contact_resolution_rate",
    "handoffs",
    "first_response_median_seconds",
    "within_sla",
    "sla_known",
    "within_sla_rate",
    "csat_average",
    "csat_response_rate",
)


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def report_table_csv(report: AnalyticsReport, name: str) -> str:
    """One table of the report as CSV (``name`` one of :data:`REPORT_TABLES`)."""
    if name in report.breakdowns:
        kpi_rows = report.breakdowns[name]
        return _table(
            (*KPI_COLUMNS, *(f"outcome_{o.value}" for o in Outcome)),
            (
                [getattr(r, c) for c in KPI_COLUMNS] + [r.outcomes.get(o.value, 0) for o in Outcome]
                for r in kpi_rows
            ),
        )
    if name == "first_response":
        columns = tuple(TierResponse.model_fields)
        return _table(columns, ([getattr(t, c) for c in columns] for t in report.first_response))
    if name == "reasons":
        return _table(
            ("reason", "label", "count"), ((r.reason, r.label, r.count) for r in report.handoff_reasons)
        )
    if name == "csat_by_tier":
        header = (
            "tier",
            "requested",
            "responses",
            "response_rate",
            "average",
            "satisfied_rate",
            *map(str, range(1, 6)),
        )
        return _table(
            header,
            (
                [c.tier, c.requested, c.responses, c.response_rate, c.average, c.satisfied_rate]
                + [c.distribution.get(s, 0) for s in range(1, 6)]
                for c in report.csat_by_tier
            ),
        )
    if name == "outcomes":
        return _table(("outcome", "conversations"), report.outcomes.items())
    if name == "quality":
        return _table(
            ("key", "speaker", "conversations", "overall", *CATEGORIES),
            (
                [q.key, q.speaker, q.conversations, q.overall] + [q.categories.get(c) for c in CATEGORIES]
                for q in report.quality
            ),
        )
    raise ValueError(f"unknown report table {name!r} (one of {', '.join(REPORT_TABLES)})")
