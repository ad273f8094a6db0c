"""The conversations behind a number: the filters a chart bar or a table cell stands for."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from console.services.analytics.models import FactRow
from handoff.outcomes import RATED, RESOLUTIONS, Outcome


class Selection(BaseModel):
    """Which conversations a number counts (unset filters match everything)."""

    outcome: Outcome | None = None
    rated: bool | None = Field(default=None, description="greeting/chit-chat only excluded (the rates' base)")
    resolution: bool | None = Field(default=None, description="contained or resolved by a person (durable)")
    tier: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16, description="'unknown': no language known")
    agent: str | None = Field(default=None, max_length=64)
    handed_off: bool | None = None
    within_sla: bool | None = Field(default=None, description="only handoffs whose SLA outcome is known")
    first_contact: bool | None = None
    csat: bool | None = Field(default=None, description="the client gave a score")

    def matches(self, row: FactRow) -> bool:
        """True when ``row`` is one of the conversations this selection counts."""
        language = row.language or "unknown"
        checks = (
            self.outcome is None or row.outcome == self.outcome,
            self.rated is None or (row.outcome in RATED) == self.rated,
            self.resolution is None or (row.outcome in RESOLUTIONS) == self.resolution,
            self.tier is None or row.tier == self.tier,
            self.channel is None or row.channel == self.channel,
            self.language is None or language == self.language,
            self.agent is None or (row.handoffs > 0 and row.agent_id == self.agent),
            self.handed_off is None or (row.handoffs > 0) == self.handed_off,
            self.within_sla is None or (row.handoffs > 0 and row.within_sla is self.within_sla),
            self.first_contact is None or row.first_contact_resolution == self.first_contact,
            self.csat is None or (row.csat_score is not None) == self.csat,
        )
        return all(checks)


def select_rows(rows: Iterable[FactRow], selection: Selection) -> list[FactRow]:
    """The rows ``selection`` counts, in the order given (by start)."""
    return [row for row in rows if selection.matches(row)]
