"""How a conversation's mood moves, turn by turn.

One angry message among friendly ones is noise; three messages that slide from polite
to furious are a trend. Scores are smoothed with an exponentially weighted moving
average (recent turns count more) and the trend is the least-squares slope of the
smoothed curve over the last few turns. "Falling" needs both a drop (slope at or under
``slope_threshold``) and a mood that has actually turned negative (smoothed level at or
under ``level_threshold``): a happy client who becomes merely neutral is not escalated.

Anger that builds from message to message ("not great" -> "worst studio ... I am
furious") is its own signal, ``rising_anger``: the newest message is at or under
``anger_level`` and worse than an earlier negative one (at or under ``anger_building``)
within the last ``window`` messages, a neutral "no" in between or not. It needs only two
scored messages, so a client whose patience runs out in two turns is not left waiting
for the smoothed curve to catch up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

Trend = Literal["falling", "rising", "steady", "unknown"]


class TrajectoryConfig(BaseModel):
    """Thresholds for trend detection; the defaults suit scores in [-1, 1]."""

    alpha: float = Field(default=0.5, gt=0, le=1, description="EWMA weight of the newest turn")
    window: int = Field(default=3, ge=2, description="turns the slope is fitted over")
    min_turns: int = Field(default=2, ge=1, description="fewer scored turns: trend unknown")
    slope_threshold: float = Field(default=-0.15, lt=0, description="per-turn slope that counts as falling")
    level_threshold: float = Field(default=-0.25, description="smoothed level that counts as negative")
    rising_threshold: float = Field(default=0.15, gt=0)
    sustained_negative: float = Field(
        default=-0.6, description="smoothed level that is bad enough by itself, whatever the slope"
    )
    sustained_turns: int = Field(default=2, ge=1)
    anger_level: float = Field(default=-0.75, description="a message this negative, after ...")
    anger_building: float = Field(default=-0.25, description="... a negative one, is rising anger")


class SentimentTrajectory(BaseModel):
    """Per-turn scores, their smoothed curve, the recent slope and what it means."""

    scores: list[float]
    smoothed: list[float]
    slope: float
    trend: Trend
    falling: bool
    sustained_negative: bool
    rising_anger: bool = False

    @property
    def latest(self) -> float | None:
        """The newest smoothed score, if any."""
        return self.smoothed[-1] if self.smoothed else None

    def describe(self) -> str:
        """A one-line account for agents, e.g. ``falling: 0.40 -> -0.55 over 4 turns``."""
        if not self.scores:
            return "no scored messages"
        if self.trend == "unknown":
            # too few messages for a trend: the scores themselves, not "unknown: -0.91 -> -0.91"
            n = len(self.scores)
            scores = ", ".join(f"{s:+.2f}" for s in self.scores)
            return f"not yet known: {n} scored message{'' if n == 1 else 's'} ({scores})"
        start, end = self.smoothed[0], self.smoothed[-1]
        turns = len(self.scores)
        return f"{self.trend}: {start:+.2f} -> {end:+.2f} over {turns} turns (slope {self.slope:+.2f}/turn)"


def ewma(scores: Sequence[float], alpha: float) -> list[float]:
    """Exponentially weighted moving average, seeded with the first score."""
    smoothed: list[float] = []
    for value in scores:
        smoothed.append(value if not smoothed else alpha * value + (1 - alpha) * smoothed[-1])
    return smoothed


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ...; 0 for fewer than two points."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def trajectory(scores: Sequence[float], config: TrajectoryConfig | None = None) -> SentimentTrajectory:
    """Smooth per-turn scores and decide the trend (pure; scores oldest first)."""
    config = config or TrajectoryConfig()
    values = [max(-1.0, min(1.0, float(s))) for s in scores]
    smoothed = ewma(values, config.alpha)
    recent = smoothed[-config.window :]
    fitted = slope(recent)
    if len(values) < config.min_turns:
        trend: Trend = "unknown"
    elif fitted <= config.slope_threshold:
        trend = "falling"
    elif fitted >= config.rising_threshold:
        trend = "rising"
    else:
        trend = "steady"
    falling = trend == "falling" and smoothed[-1] <= config.level_threshold
    tail = smoothed[-config.sustained_turns :]
    sustained = len(tail) >= config.sustained_turns and all(v <= config.sustained_negative for v in tail)
    # an earlier negative message within the window counts even with a neutral "no" between
    earlier = values[-config.window : -1]
    angrier = (
        bool(values)
        and values[-1] <= config.anger_level
        and any(v <= config.anger_building and values[-1] < v for v in earlier)
    )
    return SentimentTrajectory(
        scores=values,
        smoothed=smoothed,
        slope=fitted,
        trend=trend,
        falling=falling,
        sustained_negative=sustained,
        rising_anger=angrier,
    )
