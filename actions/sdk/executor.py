"""rasa_sdk's ``CollectingDispatcher`` (``rasa_sdk.executor``): collects an action's messages."""

from __future__ import annotations

from typing import Any


class CollectingDispatcher:
    """Collects the messages an action sends; the bot turns them into bot messages.

    A message names a domain ``response`` to render, or carries its own text,
    buttons, image, attachment, elements or custom JSON; extra keyword arguments
    fill the response's ``{placeholders}``.
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def utter_message(
        self,
        text: str | None = None,
        image: str | None = None,
        json_message: dict[str, Any] | None = None,
        template: str | None = None,
        response: str | None = None,
        attachment: str | None = None,
        buttons: list[dict[str, Any]] | None = None,
        elements: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue one message for the client (same keys as rasa_sdk's)."""
        response = response or template
        message: dict[str, Any] = {
            "text": text,
            "buttons": buttons or [],
            "elements": elements or [],
            "custom": json_message or {},
            "template": response,
            "response": response,
            "image": image,
            "attachment": attachment,
        }
        message.update(kwargs)
        self.messages.append(message)
