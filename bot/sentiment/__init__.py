"""Sentiment of client messages: a fast multilingual model and the per-conversation trajectory.

Part of NLU, kept apart from :mod:`bot.nlu` so the pipeline can call it as one component:
``SentimentModel.score(text)`` fills ``ParseData.sentiment`` (``ProjectSentiment``: the model
trained, saved and loaded with the bot); :func:`trajectory` turns the
scores of a conversation into a trend the handoff triggers read.
"""

from bot.sentiment.data import SentimentReport, SentimentScores, evaluate, load_examples_csv
from bot.sentiment.model import (
    LABELS,
    Encoder,
    Sentiment,
    SentimentExample,
    SentimentLabel,
    SentimentModel,
    SentimentOptions,
)
from bot.sentiment.project import ProjectSentiment
from bot.sentiment.trajectory import SentimentTrajectory, TrajectoryConfig, ewma, slope, trajectory

__all__ = [
    "LABELS",
    "Encoder",
    "ProjectSentiment",
    "Sentiment",
    "SentimentExample",
    "SentimentLabel",
    "SentimentModel",
    "SentimentOptions",
    "SentimentReport",
    "SentimentScores",
    "SentimentTrajectory",
    "TrajectoryConfig",
    "evaluate",
    "ewma",
    "load_examples_csv",
    "slope",
    "trajectory",
]
