"""The sentiment model of a project: trained with the bot, saved and loaded with its model.

A project that ships ``data/sentiment/train.csv`` gets a sentiment model trained at
``Agent.train``; when ``data/sentiment/test.csv`` is there too, the model is measured on
it (never trained on it) and the report is saved beside the model, so ``concierge train``
says how well the shipped model does on held-apart data. A project without the file
simply has no sentiment model, and its messages carry no sentiment.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.events import SentimentScore
from bot.sentiment.data import SentimentReport, evaluate, load_examples_csv
from bot.sentiment.model import SentimentModel

log = logging.getLogger(__name__)

TRAIN_FILE = Path("data") / "sentiment" / "train.csv"
TEST_FILE = Path("data") / "sentiment" / "test.csv"
REPORT_FILE = "report.json"


@dataclass
class ProjectSentiment:
    """A trained sentiment model and, when the project has a test set, how it scored there."""

    model: SentimentModel
    report: SentimentReport | None = None

    @classmethod
    def train(cls, project_dir: Path) -> ProjectSentiment | None:
        """Train on the project's ``train.csv`` (None when it has none); CPU work, seconds."""
        train_path = Path(project_dir) / TRAIN_FILE
        if not train_path.is_file():
            return None
        model = SentimentModel.train(load_examples_csv(train_path))
        report = None
        test_path = Path(project_dir) / TEST_FILE
        if test_path.is_file():
            report = evaluate(model, load_examples_csv(test_path))
            log.info(
                "sentiment on the held-apart set (%d messages): accuracy %.3f, macro-F1 %.3f",
                report.overall.count,
                report.overall.accuracy,
                report.overall.macro_f1,
            )
        return cls(model=model, report=report)

    def save(self, directory: Path) -> None:
        """Write the model and its report into ``directory``."""
        self.model.save(directory)
        if self.report is not None:
            (Path(directory) / REPORT_FILE).write_text(
                self.report.model_dump_json(indent=2), encoding="utf-8"
            )

    @classmethod
    def load(cls, directory: Path) -> ProjectSentiment | None:
        """The model saved in ``directory``, or None when the bundle has none."""
        directory = Path(directory)
        if not (directory / "sentiment.json").is_file():
            return None
        report_path = directory / REPORT_FILE
        report = (
            SentimentReport.model_validate(json.loads(report_path.read_text(encoding="utf-8")))
            if report_path.is_file()
            else None
        )
        return cls(model=SentimentModel.load(directory), report=report)

    def score(self, text: str) -> SentimentScore | None:
        """The ``parse_data["sentiment"]`` of a client message; None for an empty text or a
        button payload (``/intent``), which say nothing about the client's mood."""
        stripped = (text or "").strip()
        if not stripped or stripped.startswith("/"):
            return None
        result = self.model.score(stripped)
        return SentimentScore(score=round(result.score, 4), label=result.label)
