"""Responses from ``domain.yml`` rendered into bot messages (Rasa's templated NLG).

A response has variations; the renderer keeps the ones that fit the conversation
(Rasa 3's ``ResponseVariationFilter``): a variation whose slot ``condition`` matches
beats one without a condition, and one written for the current ``channel`` beats a
generic one. Among matching conditional variations the most specific (most
conditions) win: ``language: pl`` + ``tier: VIP`` beats ``language: pl`` alone for a
Polish VIP, where Rasa would pick either at random; with equally specific
variations the choice is Rasa's. One of the remaining variations is picked at random and its
``{slot_name}`` placeholders are filled from slots and keyword arguments. A
placeholder nothing can fill is left as written: a client may see ``{name}`` but
never an error.
"""

from __future__ import annotations

import copy
import logging
import random
import re
from collections.abc import Mapping
from typing import Any

from bot.domain import Domain, ResponseVariation
from bot.events import BotUttered
from bot.tracker import Tracker

log = logging.getLogger(__name__)

# Keys of a response Rasa interpolates; everything else is passed through untouched.
INTERPOLATED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
# Keys of a message that become ``BotUttered.data`` (Rasa's ``create_bot_utterance``).
DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
# Keys that pick a variation; they describe the response, not the message.
_SELECTION_KEYS = ("condition", "channel")
# ``{{`` and ``}}`` are escaped braces; ``{name}`` is a placeholder (no newline or brace inside).
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^\n{}]+?)\}")


def interpolate_text(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders in ``template``; unknown names stay as written."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name in values:
            return str(values[name])
        log.debug("no value for placeholder %r; left as written", name)
        return token

    return _PLACEHOLDER.sub(replace, template)


def interpolate(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill placeholders in a string, or recursively in the strings of a dict or list."""
    if isinstance(value, str):
        return interpolate_text(value, values)
    if isinstance(value, dict):
        return {k: interpolate(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, values) for v in value]
    return value


def _matches(variation: ResponseVariation, slots: Mapping[str, Any]) -> bool:
    """True when every slot condition of the variation holds (strings compare case-insensitively)."""
    for condition in variation.condition:
        actual = slots.get(condition.name)
        expected = condition.value
        if isinstance(actual, str) and isinstance(expected, str):
            if actual.casefold() != expected.casefold():
                return False
        elif actual != expected:
            return False
    return True


def eligible_variations(
    variations: list[ResponseVariation], channel: str | None, slots: Mapping[str, Any]
) -> list[ResponseVariation]:
    """The variations Rasa would choose from, in its order of preference:
    conditional for this channel, generic for this channel, conditional for any
    channel, then unconditional for any channel. Variations written for another
    channel are never used."""
    conditional = [v for v in variations if v.condition and _matches(v, slots)]
    conditional = _most_specific(conditional)
    default = [v for v in variations if not v.condition]
    for group in (
        [v for v in conditional if channel and v.channel == channel],
        [v for v in default if channel and v.channel == channel],
        [v for v in conditional if v.channel is None],
    ):
        if group:
            return group
    return [v for v in default if v.channel is None]


def _most_specific(variations: list[ResponseVariation]) -> list[ResponseVariation]:
    """The variations with the most conditions, per channel (a channel's own stay eligible)."""
    most: dict[str | None, int] = {}
    for v in variations:
        most[v.channel] = max(most.get(v.channel, 0), len(v.condition))
    return [v for v in variations if len(v.condition) == most[v.channel]]


def variation_as_message(variation: ResponseVariation) -> dict[str, Any]:
    """A variation as Rasa's response dict: its content without the selection keys."""
    message = variation.model_dump(mode="json", exclude_none=True)
    for key in _SELECTION_KEYS:
        message.pop(key, None)
    if not message.get("buttons"):
        message.pop("buttons", None)
    return message


def bot_uttered_from_message(message: Mapping[str, Any]) -> BotUttered:
    """Rasa's ``create_bot_utterance``: ``text`` and the data keys form the message,
    every other key (``utter_action``, ``button_type``, ...) goes to the metadata.

    Empty values are stored as None, as Rasa does for action server responses.
    """
    rest = dict(message)
    text = rest.pop("text", None)
    data: dict[str, Any] = {key: rest.pop(key, None) or None for key in DATA_KEYS}
    # Legacy: an image doubles as the attachment when there is no other attachment.
    data["attachment"] = data["attachment"] or data["image"]
    return BotUttered(text=text, data=data, metadata=rest)


class ResponseRenderer:
    """Renders the domain's responses for a conversation.

    ``seed`` makes the choice among variations reproducible (tests, evaluation).
    """

    def __init__(self, domain: Domain, seed: int | None = None) -> None:
        self.domain = domain
        self._random = random.Random(seed)

    def has(self, name: str) -> bool:
        """True when the domain defines a response called ``name``."""
        return name in self.domain.responses

    def generate(
        self, name: str, tracker: Tracker, channel: str | None, /, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The filled response as Rasa's message dict (``text``, ``buttons``, ...), or None
        when the response does not exist or no variation fits."""
        return self.generate_from_slots(name, tracker.slots, channel, **kwargs)

    def generate_from_slots(
        self, name: str, slots: Mapping[str, Any], channel: str | None, /, **kwargs: Any
    ) -> dict[str, Any] | None:
        """Like :meth:`generate`, from slot values instead of a tracker."""
        variations = self.domain.responses.get(name)
        if not variations:
            return None
        candidates = eligible_variations(variations, channel, slots)
        if not candidates:
            return None
        message = copy.deepcopy(variation_as_message(self._random.choice(candidates)))
        values = {**slots, **kwargs}
        for key in INTERPOLATED_KEYS:
            if key in message:
                message[key] = interpolate(message[key], values)
        return message

    def render(self, name: str, tracker: Tracker, channel: str | None, /, **kwargs: Any) -> BotUttered | None:
        """The ``BotUttered`` event for response ``name``, or None when it cannot be rendered.

        ``kwargs`` fill placeholders too and win over slots of the same name. The
        event's metadata names the response (``utter_action``), as Rasa's does.
        """
        message = self.generate(name, tracker, channel, **kwargs)
        if message is None:
            return None
        message["utter_action"] = name
        return bot_uttered_from_message(message)
