"""Channel-boundary messages: typed flags, and journal rows written before them still read right."""

from __future__ import annotations

from bot.models import InboundMessage


def test_record_only_is_a_typed_flag_that_survives_the_journal() -> None:
    message = InboundMessage(channel="whatsapp", sender_id="486012", text="\u2764\ufe0f", record_only=True)
    stored = message.model_dump(mode="json")  # what the inbound journal keeps
    assert stored["record_only"] is True
    assert InboundMessage.model_validate(stored).record_only is True
    assert InboundMessage(channel="widget", sender_id="s1", text="hi").record_only is False


def test_a_journal_row_from_before_the_typed_flag_is_still_recorded_not_answered() -> None:
    legacy = {"channel": "telegram", "sender_id": "42", "text": "edited", "metadata": {"record_only": "true"}}
    assert InboundMessage.model_validate(legacy).record_only is True
    assert InboundMessage.model_validate({**legacy, "metadata": {"record_only": "no"}}).record_only is False
    # an explicit field wins over the old string
    assert InboundMessage.model_validate({**legacy, "record_only": False}).record_only is False
