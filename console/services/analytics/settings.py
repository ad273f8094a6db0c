"""Analytics settings: the ``analytics:`` section of ``handoff.yml`` (every key optional).

```yaml
analytics:
  business_hours: true          # response times count the studio's open hours only
  roi:
    currency: PLN
    cost_per_agent_hour: 60     # what an hour of a person's time costs
    cost_per_conversation: 0.4  # what the bot costs per conversation (model, hosting)
    minutes_per_conversation: 6 # a person's handling time for one conversation
  staffing:
    chat_concurrency: 2         # chats one agent handles at once
    target_share: 0.8           # share of clients answered within the tier's SLA
    handle_minutes: 6           # average handling time of one conversation
    max_occupancy: 0.85
```
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from bot.errors import FormatError


class RoiConfig(BaseModel):
    """What people's time and the bot cost, to say what durable bot resolutions saved."""

    currency: str = Field(default="PLN", max_length=8)
    cost_per_agent_hour: float = Field(default=60.0, ge=0)
    cost_per_conversation: float = Field(default=0.4, ge=0, description="the bot's cost per conversation")
    minutes_per_conversation: float = Field(default=6.0, gt=0, le=600, description="a person's handling time")


class StaffingConfig(BaseModel):
    """What the staffing forecast assumes (Erlang C with chat concurrency)."""

    chat_concurrency: int = Field(default=2, ge=1, le=10)
    target_share: float = Field(default=0.8, gt=0, lt=1, description="answered within the tier's SLA")
    handle_minutes: float = Field(default=6.0, gt=0, le=600)
    max_occupancy: float = Field(default=0.85, gt=0, le=1)
    history_weeks: int = Field(default=8, ge=1, le=52)


class AnalyticsConfig(BaseModel):
    """The ``analytics:`` section of ``handoff.yml``."""

    business_hours: bool = Field(default=True, description="response times count open hours only")
    roi: RoiConfig = Field(default_factory=RoiConfig)
    staffing: StaffingConfig = Field(default_factory=StaffingConfig)


def load_analytics_config(path: Path | None) -> AnalyticsConfig:
    """The ``analytics`` section of a ``handoff.yml`` (defaults when absent)."""
    if path is None or not Path(path).is_file():
        return AnalyticsConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FormatError(str(path), f"invalid YAML: {exc}") from None
    section = raw.get("analytics") if isinstance(raw, dict) else None
    try:
        return AnalyticsConfig.model_validate(section or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"analytics.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise FormatError(str(path), problems) from None
