"""Manager analytics over the read models (``conversation_facts``, ``agent_replies``), never
over whole event logs: outcomes (:mod:`handoff.outcomes`), KPIs by period, tier, channel,
language and agent, first human response (delivered replies only) against each tier's SLA,
CSAT by tier, sentiment, handoff reasons in words, and the per-conversation CSV.
"""

from console.services.analytics.export import facts_csv
from console.services.analytics.facts import load_fact_rows
from console.services.analytics.models import MAX_DAYS, AnalyticsReport, DateRange, FactRow, Grouping
from console.services.analytics.report import analytics_report, compute_report, percentile

__all__ = [
    "MAX_DAYS",
    "AnalyticsReport",
    "DateRange",
    "FactRow",
    "Grouping",
    "analytics_report",
    "compute_report",
    "facts_csv",
    "load_fact_rows",
    "percentile",
]
