"""The mood of scripted conversations: smoothing, trend and "falling" detection."""

from __future__ import annotations

import pytest

from bot.sentiment import TrajectoryConfig, ewma, slope, trajectory


def test_ewma_and_slope() -> None:
    assert ewma([1.0, -1.0, -1.0], 0.5) == [1.0, 0.0, -0.5]
    assert slope([0.0, -0.5, -1.0]) == pytest.approx(-0.5)
    assert slope([0.3]) == 0.0


def test_polite_then_annoyed_then_furious_is_falling() -> None:
    # "Hi, can I move my booking?" -> "Still no answer?" -> "This is ridiculous" -> "Worst service ever"
    path = trajectory([0.3, -0.2, -0.6, -0.9])
    assert path.trend == "falling"
    assert path.falling
    assert path.latest is not None and path.latest < -0.25
    assert path.describe().startswith("falling: +0.30 -> ")


def test_one_grumble_among_happy_messages_is_not_falling() -> None:
    path = trajectory([0.6, 0.7, 0.5, -0.5])
    assert not path.falling  # the drop is real but the mood is not yet negative
    assert not path.sustained_negative


def test_happy_to_neutral_is_not_escalated() -> None:
    path = trajectory([0.8, 0.5, 0.1, 0.0])
    assert path.trend == "falling"
    assert not path.falling


def test_steadily_furious_client_is_sustained_negative_though_not_falling() -> None:
    path = trajectory([-0.8, -0.8, -0.85])
    assert path.trend == "steady"
    assert not path.falling
    assert path.sustained_negative


def test_recovering_conversation_is_rising() -> None:
    path = trajectory([-0.7, -0.2, 0.4, 0.8])
    assert path.trend == "rising"
    assert not path.falling


def test_too_few_turns_is_unknown_and_empty_is_described() -> None:
    path = trajectory([-0.91], TrajectoryConfig(min_turns=2))
    assert path.trend == "unknown"
    # the console's packet reads "Mood not yet known: ...", never "Mood unknown: -0.91 -> -0.91"
    assert path.describe() == "not yet known: 1 scored message (-0.91)"
    assert trajectory([-0.2, -0.91], TrajectoryConfig(min_turns=3)).describe() == (
        "not yet known: 2 scored messages (-0.20, -0.91)"
    )
    assert trajectory([]).describe() == "no scored messages"


def test_thresholds_come_from_config() -> None:
    scores = [0.0, -0.4, -0.8]  # smoothed 0, -0.2, -0.5
    assert trajectory(scores).falling
    assert not trajectory(scores, TrajectoryConfig(level_threshold=-0.6)).falling
