"""Canned replies: the shipped file, filling placeholders, and the checks made when loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from console.services.workspace.canned import fill, load_canned_replies, render
from tests.console.workspace_support import REPO


def test_the_shipped_replies_load_in_english_polish_and_ukrainian() -> None:
    replies = load_canned_replies(REPO / "data" / "canned_replies.yml")
    assert len(replies.replies) >= 6
    assert all(set(r.text) == {"en", "pl", "uk"} for r in replies.replies)
    assert replies.get("greeting") is not None and replies.get("nope") is None


def test_replies_are_filled_in_the_clients_language() -> None:
    replies = load_canned_replies(REPO / "data" / "canned_replies.yml")
    values = {"first_name": "Aleksandra", "agent_name": "Anna", "studio": "Warsaw Mokotów", "last_name": None}
    polish = {r.id: r for r in render(replies, "pl", values)}
    assert polish["greeting"].language == "pl"
    assert polish["greeting"].text.startswith("Dzień dobry Aleksandra, z tej strony Anna z Mariia Hub.")
    assert "Warsaw Mokotów" in polish["rebook"].text
    german = {r.id: r for r in render(replies, "de", values)}  # no German text: English
    assert german["greeting"].language == "en"
    assert german["greeting"].text.startswith("Hello Aleksandra, this is Anna from Mariia Hub.")


def test_a_missing_value_is_left_out_and_the_sentence_tidied() -> None:
    assert fill("Hello {first_name}, this is {agent_name}.", {"agent_name": "Anna"}) == "Hello, this is Anna."
    assert fill("{first_name}, I'm truly sorry.", {}) == "I'm truly sorry."
    assert fill("Anything else for you today, {first_name}?", {}) == "Anything else for you today?"
    assert fill("Вітаю, {first_name}! Це {agent_name}.", {"agent_name": "Олена"}) == "Вітаю! Це Олена."


def test_unknown_placeholders_and_duplicate_ids_are_refused_when_loading(tmp_path: Path) -> None:
    path = tmp_path / "canned.yml"
    path.write_text(
        "replies:\n  - id: hi\n    title: Hi\n    text:\n      en: 'Hi {frist_name}'\n", encoding="utf-8"
    )
    with pytest.raises(FormatError, match=r"replies\.0\.text.*frist_name.*use first_name"):
        load_canned_replies(path)
    path.write_text(
        "replies:\n  - {id: hi, title: Hi, text: {en: Hi}}\n  - {id: hi, title: Hello, text: {en: Hello}}\n",
        encoding="utf-8",
    )
    with pytest.raises(FormatError, match="duplicate canned reply id"):
        load_canned_replies(path)
    path.write_text("replies:\n  - {id: hi, title: Hi, text: {pl: Cześć}}\n", encoding="utf-8")
    with pytest.raises(FormatError, match="needs an 'en' text"):
        load_canned_replies(path)
    path.write_text("replies: [\n", encoding="utf-8")
    with pytest.raises(FormatError, match="invalid YAML"):
        load_canned_replies(path)


def test_a_project_without_the_file_has_no_canned_replies(tmp_path: Path) -> None:
    assert load_canned_replies(tmp_path / "missing.yml").replies == []
