"""What the client is told on handoff: per language, with placeholders, English as the last resort."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from handoff.messages import RESPONSES, HandoffMessages


def test_each_message_exists_in_english_polish_and_ukrainian() -> None:
    messages = HandoffMessages()
    for kind in RESPONSES:
        assert set(getattr(messages, kind)) == {"en", "pl", "uk"}


def test_placeholders_are_filled_and_unknown_languages_fall_back_to_english() -> None:
    messages = HandoffMessages()
    assert messages.text("concierge_connected", "en", agent="Anna") == (
        "Of course. I'm connecting you with Anna, your concierge; Anna will reply here in a moment."
    )
    assert messages.text("details_received", "uk", when="завтра о 09:00").endswith("завтра о 09:00.")
    assert messages.text("escalated", "de") == messages.text("escalated", "en")
    assert messages.text("escalated", None) == messages.text("escalated", "en")


def test_a_configured_message_needs_english() -> None:
    with pytest.raises(ValidationError, match="needs an English text"):
        HandoffMessages(escalated={"pl": "Przekazuję."})
