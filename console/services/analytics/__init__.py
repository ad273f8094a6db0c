"""Manager analytics over the read models (``conversation_facts``, ``agent_replies``), never
over whole event logs: outcomes (:mod:`handoff.outcomes`), KPIs by period, tier, channel,
language and agent, first human response (delivered replies only) against each tier's SLA,
CSAT by tier, sentiment, handoff reasons in words, and the per-conversation CSV.
"""

from console.services.analytics.drilldown import Selection, select_rows
from console.services.analytics.export import REPORT_TABLES, facts_csv, report_table_csv
from console.services.analytics.facts import load_fact_rows
from console.services.analytics.models import MAX_DAYS, AnalyticsReport, DateRange, FactRow, Grouping
from console.services.analytics.report import analytics_report, compute_report, percentile

__all__ = [
    "MAX_DAYS",
    "REPORT_TABLES",
    "AnalyticsReport",
    "DateRange",
    "FactRow",
    "Grouping",
    "Selection",
    "analytics_report",
    "compute_report",
    "facts_csv",
    "load_fact_rows",
    "percentile",
    "report_table_csv",
    "select_rows",
]
