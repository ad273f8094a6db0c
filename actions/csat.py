"""CSAT: asking the client how satisfied they are after a person helped, and recording the answer.

The console asks (:func:`csat_question`) when an agent resolves a conversation or returns
it to the bot: a ``CsatRequested`` event and a message with five buttons whose payloads
are ``/csat{"score":N}``. The client's tap is an ordinary message with the ``csat``
intent, and the rule ``csat -> action_record_csat`` runs :class:`ActionRecordCsat`, which
stores ``CsatRecorded`` (what analytics read) and thanks the client. ``CsatRecorded`` is a
system event: the action holds an explicit grant for it (``system_events``, see
:class:`bot.events.WritesSystemEvents`); any other action returning it is refused. Texts come from the
domain's ``utter_ask_csat`` / ``utter_csat_thanks`` responses when it has them (so they
sit with the bot's other texts and follow its ``language`` slot), else from the English,
Polish and Ukrainian defaults here.
"""

from __future__ import annotations

import json
import logging

from bot.domain import Domain
from bot.events import BotUttered, CsatRecorded, CsatRequested, Event, SystemEventType, UserUttered
from bot.nlg import ResponseRenderer
from bot.redact import conversation_ref
from bot.tracker import Tracker

log = logging.getLogger(__name__)

ACTION_NAME = "action_record_csat"
INTENT = "csat"
ENTITY = "score"
ASK_RESPONSE = "utter_ask_csat"
THANKS_RESPONSE = "utter_csat_thanks"
SCORES = (1, 2, 3, 4, 5)

QUESTION = {
    "en": "How happy are you with the help you got today? Please tap a score from 1 (poor) to 5 (excellent).",
    "pl": "Jak oceniasz dzisiejszą pomoc? Wybierz ocenę od 1 (słabo) do 5 (doskonale).",
    "uk": "Наскільки ви задоволені сьогоднішньою допомогою? Оберіть оцінку від 1 (погано) до 5 (чудово).",
    "ru": "Насколько вы довольны сегодняшней помощью? Выберите оценку от 1 (плохо) до 5 (отлично).",
}
SCORE_TITLES = {
    "en": ("1 Poor", "2 Fair", "3 Good", "4 Very good", "5 Excellent"),
    "pl": ("1 Słabo", "2 Przeciętnie", "3 Dobrze", "4 Bardzo dobrze", "5 Doskonale"),
    "uk": ("1 Погано", "2 Задовільно", "3 Добре", "4 Дуже добре", "5 Чудово"),
    "ru": ("1 Плохо", "2 Удовлетворительно", "3 Хорошо", "4 Очень хорошо", "5 Отлично"),
}
THANKS = {
    "en": "Thank you for your feedback! It helps us look after you better.",
    "pl": "Dziękujemy za ocenę! Dzięki niej możemy lepiej o Ciebie dbać.",
    "uk": "Дякуємо за відгук! Він допомагає нам краще про вас дбати.",
    "ru": "Спасибо за отзыв! Он помогает нам лучше о вас заботиться.",
}


def csat_payload(score: int) -> str:
    """The button payload for ``score``: ``/csat{"score":5}``."""
    return f"/{INTENT}" + json.dumps({ENTITY: score}, separators=(",", ":"))


def tracker_language(tracker: Tracker) -> str:
    """The conversation's language: the ``language`` slot, else the latest detected one, else English."""
    slot = tracker.get_slot("language") if "language" in tracker.slots else None
    if isinstance(slot, str) and slot in QUESTION:
        return slot
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and event.parse_data.language in QUESTION:
            return str(event.parse_data.language)
    return "en"


def csat_question(
    tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str, *, agent_id: str | None
) -> list[Event]:
    """``CsatRequested`` and the question with its five score buttons, in the client's language."""
    message: BotUttered | None = None
    if ASK_RESPONSE in domain.responses:
        message = nlg.render(ASK_RESPONSE, tracker, channel)
    if message is None or not message.data.get("buttons"):
        language = tracker_language(tracker)
        buttons = [
            {"title": title, "payload": csat_payload(score)}
            for score, title in zip(SCORES, SCORE_TITLES[language], strict=True)
        ]
        text = message.text if message is not None and message.text else QUESTION[language]
        message = BotUttered(text=text, data={"buttons": buttons}, metadata={"utter_action": ASK_RESPONSE})
    metadata = {**message.metadata, "sender": "bot", "csat": True}
    return [CsatRequested(agent_id=agent_id), message.model_copy(update={"metadata": metadata})]


def pending_request(events: list[Event]) -> CsatRequested | None:
    """The latest CSAT question not answered yet, if any."""
    for event in reversed(events):
        if isinstance(event, CsatRecorded):
            return None
        if isinstance(event, CsatRequested):
            return event
    return None


def score_of(message: UserUttered | None) -> int | None:
    """The 1-5 score in a ``csat`` message's ``score`` entity (or its bare-digit text)."""
    if message is None:
        return None
    raw: object = next((e.value for e in message.entities if e.entity == ENTITY), None)
    if raw is None and message.text and message.text.strip() in {str(s) for s in SCORES}:
        raw = message.text.strip()
    try:
        score = int(str(raw))
    except (TypeError, ValueError):
        return None
    return score if score in SCORES else None


class ActionRecordCsat:
    """``action_record_csat``: stores the client's score once per question and thanks them.

    A tap without an open question (an old button pressed again) is thanked but not stored,
    so a score counts once; a payload without a usable score changes nothing.
    """

    name = ACTION_NAME
    #: CSAT is the system's to write; this native action (built by the app, never loaded from
    #: an actions module or called on an action server) is granted the score's event
    system_events: frozenset[SystemEventType] = frozenset({CsatRecorded})

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """``CsatRecorded`` plus the thanks, or just the thanks for a repeated tap."""
        score = score_of(tracker.latest_message)
        if score is None:
            log.info("%s: csat message without a 1-5 score; ignored", conversation_ref(tracker.sender_id))
            return []
        events: list[Event] = []
        request = pending_request(list(tracker.events))
        if request is not None:
            events.append(CsatRecorded(score=score, agent_id=request.agent_id))
        thanks: BotUttered | None = None
        if THANKS_RESPONSE in domain.responses:
            thanks = nlg.render(THANKS_RESPONSE, tracker, channel)
        if thanks is None:
            thanks = BotUttered(text=THANKS[tracker_language(tracker)])
        events.append(thanks)
        return events
