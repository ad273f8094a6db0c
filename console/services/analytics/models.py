"""The analytics report's shapes (the JSON API's schema) and its date range."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from handoff.outcomes import Outcome

MAX_DAYS = 366
Grouping = Literal["day", "week", "month"]
Dimension = Literal["period", "tier", "channel", "language", "agent"]


class DateRange(BaseModel):
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: dt.date
    end: dt.date

    @classmethod
    def last_days(cls, days: int, today: dt.date | None = None) -> DateRange:
        """The ``days`` days ending today (UTC)."""
        today = today or dt.datetime.now(dt.UTC).date()
        return cls(start=today - dt.timedelta(days=days - 1), end=today)

    @property
    def start_ts(self) -> float:
        """Epoch seconds at the start of ``start``."""
        return dt.datetime.combine(self.start, dt.time(), dt.UTC).timestamp()

    @property
    def end_ts(self) -> float:
        """Epoch seconds at the end of ``end`` (exclusive bound)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()

    def contains(self, timestamp: float | None) -> bool:
        """True when ``timestamp`` falls in the range."""
        return timestamp is not None and self.start_ts <= timestamp < self.end_ts


class FactRow(BaseModel):
    """One conversation as analytics sees it: its facts row, classified, with its delivered
    first human response (the CSV export's row)."""

    conversation_id: str
    channel: str
    tier: str = Field(description="the tier it was served at (handoff tier, else slot, else default)")
    language: str | None
    agent_id: str | None
    started_at: float
    outcome: Outcome
    confirmed: bool
    first_contact_resolution: bool
    handoffs: int
    handoff_reason: str | None
    queued_at: float | None
    first_human_response_seconds: float | None = Field(description="to the first DELIVERED agent reply")
    first_human_response_business_seconds: float | None = Field(
        default=None, description="the same counted in the studio's business hours (None: not aware)"
    )
    next_response_seconds: list[float] = Field(
        default_factory=list,
        description="each wait from a client line after the first reply to the next delivered reply "
        "(business hours when aware)",
    )
    location: str | None = Field(default=None, description="the client's home studio (its hours count)")
    sla_seconds: int | None
    within_sla: bool | None = Field(description="None while an unanswered handoff is still inside its SLA")
    answers: int
    fallbacks: int
    csat_requested: bool
    csat_score: int | None
    sentiment_start: float | None
    sentiment_end: float | None


class Containment(BaseModel):
    """Conversations the bot resolved alone, among the rated ones (greeting-only excluded)."""

    conversations: int = Field(description="rated conversations (greeting/chit-chat only excluded)")
    contained: int
    rate: float | None = Field(description="contained / conversations; None when there were none")


class TierResponse(BaseModel):
    """First human response of one tier's handoffs against its SLA (delivered replies only)."""

    tier: str
    sla_seconds: int
    handoffs: int
    answered: int
    waiting: int = Field(description="not answered yet and still within the SLA")
    median_seconds: float | None
    p90_seconds: float | None
    within_sla: int
    within_sla_rate: float | None = Field(description="within SLA / handoffs whose outcome is known")
    business_median_seconds: float | None = Field(default=None, description="median in business hours")
    next_responses: int = Field(default=0, description="next human responses (waits a reply ended)")
    next_response_median_seconds: float | None = None
    next_response_p90_seconds: float | None = None
    next_within_sla_rate: float | None = Field(
        default=None, description="next responses within the tier's SLA"
    )


class Csat(BaseModel):
    """Client satisfaction scores (the last score of each conversation)."""

    requested: int = 0
    responses: int
    response_rate: float | None = None
    average: float | None
    distribution: dict[int, int]
    satisfied_rate: float | None = Field(description="share of 4 and 5 scores")


class TierCsat(Csat):
    """CSAT of one tier."""

    tier: str


class ReasonCount(BaseModel):
    """How often a handoff reason occurred, in a manager's words."""

    reason: str = Field(description="the code (e.g. rule:vip_complaint)")
    label: str = Field(description="the same in human words")
    count: int


class Sentiment(BaseModel):
    """Client sentiment at the start and at the end of conversations (-1 to 1)."""

    conversations: int
    start_average: float | None
    end_average: float | None
    improved: int
    worsened: int


class KpiRow(BaseModel):
    """The KPIs of one slice (a period, a tier, a channel, a language or an agent)."""

    key: str
    start: dt.date | None = Field(default=None, description="a period's first day (inside the range)")
    end: dt.date | None = Field(default=None, description="a period's last day (inside the range)")
    outcomes: dict[str, int] = Field(default_factory=dict, description="conversations per outcome")
    volume: int = Field(description="every conversation started in the slice")
    rated: int = Field(description="volume minus greeting/chit-chat only")
    contained: int
    containment_rate: float | None
    resolved_by_person: int
    resolution_rate: float | None = Field(description="(contained + resolved by a person) / rated, durable")
    first_contact_resolution_rate: float | None
    handoffs: int
    first_response_median_seconds: float | None
    next_response_median_seconds: float | None = None
    within_sla: int = Field(default=0, description="handoffs answered within their tier's SLA")
    sla_known: int = Field(default=0, description="handoffs whose SLA outcome is known")
    within_sla_rate: float | None
    csat_average: float | None
    csat_response_rate: float | None


FORMULA = (
    "hours saved = contained × minutes per conversation ÷ 60; "
    "gross saving = hours saved × cost per agent hour; "
    "bot cost = conversations × cost per conversation; "
    "net saving = gross saving − bot cost"
)


class RoiFigures(BaseModel):
    """What durable bot resolutions saved in a report's range."""

    currency: str
    contained: int
    conversations: int
    minutes_per_conversation: float
    cost_per_agent_hour: float
    cost_per_conversation: float
    hours_saved: float
    gross_saving: float
    bot_cost: float
    net_saving: float
    formula: str = FORMULA


class QualityRow(BaseModel):
    """Automated quality scores of one speaker (the bot, or an agent) over the resolved
    conversations of a range: the mean overall score and each category's mean (issue 14 item 6)."""

    key: str = Field(description="'bot' or the agent's id")
    speaker: Literal["bot", "agent"]
    conversations: int = Field(description="resolved conversations scored")
    overall: float | None = Field(description="mean of the conversations' overall scores")
    categories: dict[str, float | None] = Field(
        default_factory=dict, description="each category's mean where it applied (None: never applied)"
    )


class AnalyticsReport(BaseModel):
    """Everything the manager's analytics page shows for one date range."""

    range: DateRange
    grouping: Grouping = "day"
    reopen_days: int = 7
    containment: Containment
    outcomes: dict[str, int] = Field(default_factory=dict, description="conversations per outcome")
    totals: KpiRow | None = None
    first_response: list[TierResponse]
    csat: Csat
    csat_by_tier: list[TierCsat] = Field(default_factory=list)
    sentiment: Sentiment | None = None
    handoff_reasons: list[ReasonCount]
    breakdowns: dict[str, list[KpiRow]] = Field(
        default_factory=dict, description="KPIs by period, tier, channel, language and agent"
    )
    roi: RoiFigures | None = Field(default=None, description="what durable bot resolutions saved")
    quality: list[QualityRow] = Field(
        default_factory=list, description="auto-QA scores of the bot and each agent (resolved conversations)"
    )
    business_hours: bool = Field(default=True, description="response times count open hours only")
