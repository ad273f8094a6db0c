"""The labelled quality set (issue 14, item 6): the shipped conversations load with the stated
mix, every one can be scored, and malformed conversation or label files are refused with an
error that names the file and the problem."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.errors import FormatError
from console.services.analytics.quality import CATEGORIES, score_conversation
from console.services.analytics.quality_set import (
    QualitySet,
    load_labels,
    load_quality_set,
    transcript,
)
from handoff.agents import load_agents

ROOT = Path(__file__).resolve().parents[3]
SET_PATH = ROOT / "data" / "quality" / "conversations.yml"

GOOD_SET = """\
version: 1
conversations:
  - id: qa-001
    language: en
    speaker: bot
    turns:
      - {sender: client, text: "What time do you open?"}
      - {sender: bot, text: "Hello! We open at 9:00. Have a lovely day!"}
  - id: qa-002
    language: pl
    speaker: agent
    agent: anna.kowalska
    turns:
      - {sender: client, text: "Ile kosztuje manicure?"}
      - {sender: agent, text: "Dzień dobry, 150 zł."}
"""


def labels_line(conversation_id: str, **overrides: object) -> str:
    values: dict[str, object] = {c: 1 for c in CATEGORIES} | {"empathy": None} | overrides
    body = ", ".join(f"{k}: {'null' if v is None else v}" for k, v in values.items())
    return f"  {conversation_id}: {{{body}}}\n"


@pytest.fixture()
def small_set(tmp_path: Path) -> QualitySet:
    path = tmp_path / "conversations.yml"
    path.write_text(GOOD_SET, encoding="utf-8")
    return load_quality_set(path)


def write_labels(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "labels_a.yml"
    path.write_text("version: 1\nlabeller: a\nlabels:\n" + body, encoding="utf-8")
    return path


def test_the_shipped_set_has_100_conversations_in_the_stated_mix() -> None:
    quality_set = load_quality_set(SET_PATH)
    conversations = quality_set.conversations
    assert len(conversations) == 100
    assert quality_set.ids == [f"qa-{n:03d}" for n in range(1, 101)]
    assert Counter(c.language for c in conversations) == {"en": 60, "pl": 25, "uk": 15}
    assert Counter(c.speaker for c in conversations) == {"bot": 45, "agent": 55}
    assert all(2 <= len(c.turns) <= 8 for c in conversations)


def test_every_agent_is_a_demo_agent_who_speaks_the_conversation_language() -> None:
    roster = load_agents(ROOT / "data" / "agents.yml")
    for conversation in load_quality_set(SET_PATH).conversations:
        if conversation.speaker == "bot":
            assert conversation.agent is None
            continue
        assert conversation.agent is not None
        profile = roster.get(conversation.agent)
        assert profile is not None, conversation.id
        assert conversation.language in profile.languages, conversation.id


def test_every_shipped_conversation_is_scoreable() -> None:
    for conversation in load_quality_set(SET_PATH).conversations:
        lines = transcript(conversation)
        assert [line.seq for line in lines] == list(range(1, len(conversation.turns) + 1))
        score = score_conversation(lines, conversation.speaker)
        speaker_turns = sum(1 for t in conversation.turns if t.sender == conversation.speaker)
        assert score.replies == speaker_turns, conversation.id
        assert [c.category for c in score.categories] == list(CATEGORIES)
        assert score.overall is not None, conversation.id


def test_a_good_label_file_loads_against_the_set_next_to_it(tmp_path: Path, small_set: QualitySet) -> None:
    path = write_labels(tmp_path, labels_line("qa-001") + labels_line("qa-002", closing=0))
    labels = load_labels(path)
    assert labels.labeller == "a"
    assert labels.labels["qa-002"]["closing"] == 0
    assert labels.labels["qa-001"]["empathy"] is None
    assert labels.unlabelled(small_set) == []
    partial = load_labels(write_labels(tmp_path, labels_line("qa-002")), small_set)
    assert partial.unlabelled(small_set) == ["qa-001"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (labels_line("qa-001").replace("closing: 1, ", ""), "qa-001: missing closing"),
        (labels_line("qa-001", politeness=1), "qa-001: unknown categor(ies) politeness"),
        (labels_line("qa-001", tone=2), "less than or equal to 1"),
        (labels_line("qa-001", tone="yes"), "valid integer"),
        (labels_line("qa-001", tone=0.5), "valid integer"),
        (labels_line("qa-009"), "not in the set: qa-009"),
        (labels_line("qa-001") + labels_line("qa-001"), "duplicate key 'qa-001'"),
        (labels_line("QA 1"), "String should match pattern"),
        ("  qa-001: [1, 1]\n", "qa-001: Input should be a valid dictionary"),
    ],
)
def test_malformed_label_files_are_refused_with_the_reason(
    tmp_path: Path, small_set: QualitySet, body: str, message: str
) -> None:
    path = write_labels(tmp_path, body)
    with pytest.raises(FormatError) as caught:
        load_labels(path, small_set)
    assert caught.value.path == str(path)
    assert message in caught.value.reason


def test_a_label_file_needs_its_version_and_labeller(tmp_path: Path, small_set: QualitySet) -> None:
    path = tmp_path / "labels_b.yml"
    path.write_text("labels:\n" + labels_line("qa-001"), encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_labels(path, small_set)
    assert "version: Field required" in caught.value.reason
    assert "labeller: Field required" in caught.value.reason


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("id: qa-002", "id: qa-001", "duplicate conversation id(s): qa-001"),
        ("    agent: anna.kowalska\n", "", "speaker is agent but no agent is named"),
        ("speaker: bot\n", "speaker: bot\n    agent: olena\n", "agent is named but the speaker is the bot"),
        ("{sender: bot, text", "{sender: agent, text", "turns by agent, but the speaker is bot"),
        ("language: pl", "language: de", "language: Input should be 'en', 'pl' or 'uk'"),
        ("Dzień dobry, 150 zł.", "x" * 2001, "at most 2000 characters"),
    ],
)
def test_malformed_conversation_files_are_refused_with_the_reason(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD_SET
    path = tmp_path / "conversations.yml"
    path.write_text(GOOD_SET.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_quality_set(path)
    assert message in caught.value.reason


def test_a_broken_yaml_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "conversations.yml"
    path.write_text("version: 1\nconversations:\n  - id: [qa-001\n", encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_quality_set(path)
    assert caught.value.line is not None
    assert "invalid YAML" in caught.value.reason
