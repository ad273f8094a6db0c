"""What the client is told when the bot hands the conversation to a person.

Each message exists in the languages the bot speaks. A domain may override any of
them with a response of the same name (``utter_handoff_escalated``, ...), which then
gets Rasa's conditional variations (by ``language``, ``tier``, ...) and channel
variations; these texts are what a bot without such responses says. Placeholders:
``{agent}`` (the agent's first name) and ``{when}`` ("tomorrow at 09:00").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

MessageKind = Literal["escalated", "concierge_connected", "concierge_unavailable", "details_received"]
#: the domain response that overrides each message
RESPONSES: dict[MessageKind, str] = {
    "escalated": "utter_handoff_escalated",
    "concierge_connected": "utter_handoff_concierge_connected",
    "concierge_unavailable": "utter_handoff_concierge_unavailable",
    "details_received": "utter_handoff_details_received",
}


def _escalated() -> dict[str, str]:
    return {
        "en": "I'm passing this to a member of the Mariia Hub team right away; "
        "a person will reply here shortly.",
        "pl": "Od razu przekazuję tę sprawę osobie z zespołu Mariia Hub; odpowie tutaj wkrótce.",
        "uk": "Одразу передаю це комусь із команди Mariia Hub; людина відповість тут найближчим часом.",
    }


def _concierge_connected() -> dict[str, str]:
    return {
        "en": "Of course. I'm connecting you with {agent}, your concierge; "
        "{agent} will reply here in a moment.",
        "pl": "Oczywiście. Łączę Cię z osobą, która się Tobą opiekuje: {agent} odpowie tutaj za chwilę.",
        "uk": "Звісно. Передаю розмову вашому консьєржу: {agent} відповість тут за мить.",
    }


def _concierge_unavailable() -> dict[str, str]:
    return {
        "en": "{agent}, your concierge, isn't available right now, so I've passed your message to the "
        "team; the first person free will reply here shortly.",
        "pl": "{agent} nie może teraz odpowiedzieć, więc przekazuję wiadomość zespołowi; "
        "pierwsza wolna osoba odpowie tutaj wkrótce.",
        "uk": "{agent}, ваш консьєрж, зараз не може відповісти, тому я передаю повідомлення команді; "
        "перша вільна людина відповість тут найближчим часом.",
    }


def _details_received() -> dict[str, str]:
    return {
        "en": "Thank you, I've added this to your request. A person from our team will reply {when}.",
        "pl": "Dziękuję, dołączam to do zgłoszenia. Osoba z naszego zespołu odpowie {when}.",
        "uk": "Дякую, я додала це до вашого звернення. Людина з нашої команди відповість {when}.",
    }


class HandoffMessages(BaseModel):
    """The texts per message kind and language (``{"en": "...", "pl": "..."}``)."""

    escalated: dict[str, str] = Field(default_factory=_escalated)
    concierge_connected: dict[str, str] = Field(default_factory=_concierge_connected)
    concierge_unavailable: dict[str, str] = Field(default_factory=_concierge_unavailable)
    details_received: dict[str, str] = Field(default_factory=_details_received)

    @model_validator(mode="after")
    def _english_everywhere(self) -> HandoffMessages:
        for kind in RESPONSES:
            if "en" not in getattr(self, kind):
                raise ValueError(f"messages.{kind} needs an English text (the last resort)")
        return self

    def text(self, kind: MessageKind, language: str | None, **values: str) -> str:
        """The message in ``language`` (English when there is none), placeholders filled."""
        texts: dict[str, str] = getattr(self, kind)
        template = texts.get(language or "en") or texts["en"]
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
