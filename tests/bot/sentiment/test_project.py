"""The sentiment model trained with the bot: in the model bundle, retrained when its data changes,
and scoring every parsed message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.agent import Agent, project_fingerprint
from bot.sentiment.project import ProjectSentiment


@pytest.fixture
def project(tmp_path: Path, repo_dir: Path) -> Path:
    """A small real bot (the channel tests' one) with the shipped sentiment examples."""
    root = tmp_path / "bot"
    shutil.copytree(repo_dir / "tests" / "bot" / "channels" / "widget_bot", root)
    (root / "data" / "sentiment").mkdir()
    for name in ("train.csv", "test.csv"):
        shutil.copy(repo_dir / "data" / "sentiment" / name, root / "data" / "sentiment" / name)
    return root


def test_the_project_model_is_measured_on_its_held_apart_set_and_round_trips(
    project: Path, tmp_path: Path
) -> None:
    trained = ProjectSentiment.train(project)
    assert trained is not None and trained.report is not None
    assert trained.report.overall.count == 114
    assert trained.report.overall.accuracy >= 0.82  # measured 0.89 with the shipped data
    trained.save(tmp_path / "saved")
    loaded = ProjectSentiment.load(tmp_path / "saved")
    assert loaded is not None and loaded.report == trained.report
    for text in ("this is a disgrace", "dziękuję, wszystko super", "добрий день"):
        assert loaded.score(text) == trained.score(text)
    assert ProjectSentiment.load(tmp_path / "nothing-here") is None


def test_payloads_and_empty_messages_carry_no_sentiment(project: Path) -> None:
    trained = ProjectSentiment.train(project)
    assert trained is not None
    assert trained.score("/request_human") is None and trained.score("   ") is None
    scored = trained.score("I've been waiting an hour and nobody answers, this is a joke")
    assert scored is not None and scored.label == "negative" and scored.score < -0.4


def test_the_agent_trains_saves_and_loads_sentiment_and_every_parse_carries_it(
    project: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    agent = Agent.load_or_train(project, model_dir)
    assert agent.sentiment is not None and (model_dir / "sentiment" / "report.json").is_file()
    loaded = Agent.load(model_dir)
    assert loaded.sentiment is not None
    parsed = loaded.parse("thank you so much, it was wonderful")
    assert parsed.intent_name == "thank"
    assert parsed.sentiment is not None and parsed.sentiment.label == "positive"
    assert loaded.parse("/greet").sentiment is None


def test_a_changed_csv_retrains_the_model_and_an_unchanged_project_loads(
    project: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    first = Agent.load_or_train(project, model_dir)
    assert Agent.load_or_train(project, model_dir).trained_at == first.trained_at  # loaded, not trained
    before = project_fingerprint(project)
    with (project / "data" / "sentiment" / "train.csv").open("a", encoding="utf-8") as handle:
        handle.write("the towels were lovely and warm,positive,en\r\n")
    assert project_fingerprint(project) != before
    retrained = Agent.load_or_train(project, model_dir)
    assert retrained.trained_at > first.trained_at and retrained.sentiment is not None


def test_a_project_without_sentiment_examples_has_no_sentiment(project: Path, tmp_path: Path) -> None:
    shutil.rmtree(project / "data" / "sentiment")
    agent = Agent.load_or_train(project, tmp_path / "model")
    assert agent.sentiment is None
    assert agent.parse("hello").sentiment is None
    assert Agent.load(tmp_path / "model").sentiment is None
