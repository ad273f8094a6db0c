"""``action_answer_from_knowledge``: answers a client's question from the knowledge base.

The policies choose this action for the ``faq`` retrieval intent (the demo's rules map
``faq`` to it: every FAQ answer is a knowledge article an editor controls, none is a copy
in domain.yml) and for low-confidence NLU, so rules, forms and handoff keep precedence.
The response selector's key (``faq/lateness``) routes to the articles naming it when
retrieval backs them; otherwise the whole knowledge base is asked. It answers with the
source named, or says honestly that it does not know and offers a human (a
``/request_human`` button, the demo domain's handoff intent). An unanswered or
low-confidence question is a gap: a ``knowledge_gap`` event with what was tried, appended
with the turn, which the gaps read model (:mod:`knowledge.gaps`) follows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.domain import Domain
from bot.events import BotUttered, Event, KnowledgeGapNoted, SlotSet
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker
from knowledge.gaps import gap_event
from knowledge.models import Answer
from knowledge.service import KnowledgeBase, Route

log = logging.getLogger(__name__)

ACTION_NAME = "action_answer_from_knowledge"
NO_ANSWER_RESPONSE = "utter_kb_no_answer"
HANDOFF_PAYLOAD = "/request_human"
SOURCE_SLOT = "kb_sources"

SOURCE_LABEL = {"en": "Source", "pl": "Źródło", "uk": "Джерело", "ru": "Источник"}
NO_ANSWER_TEXT = {
    "en": "I'm sorry, I don't know the answer to that and I'd rather not guess. "
    "Would you like me to connect you with someone from our team?",
    "pl": "Przepraszam, nie znam odpowiedzi na to pytanie i nie chcę zgadywać. "
    "Czy połączyć Cię z kimś z naszego zespołu?",
    "uk": "Вибачте, я не знаю відповіді на це питання і не хочу вгадувати. "
    "З'єднати вас із кимось із нашої команди?",
    "ru": "Извините, я не знаю ответа на этот вопрос и не хочу гадать. "
    "Соединить вас с кем-нибудь из нашей команды?",
}
HUMAN_BUTTON = {
    "en": "Talk to a person",
    "pl": "Rozmowa z konsultantem",
    "uk": "Зв'язатися з людиною",
    "ru": "Связаться с человеком",
}


def answer_text(answer: Answer) -> str:
    """The client's message: the answer, then its source(s) by title."""
    label = SOURCE_LABEL.get(answer.language, SOURCE_LABEL["en"])
    if answer.mode == "llm":
        cites = "; ".join(f"[{s.ref}] {s.title}" for s in answer.sources)
    else:
        cites = "; ".join(s.title for s in answer.sources)
    return f"{answer.text}\n\n{label}: {cites}" if cites else str(answer.text)


def route_of(parse: Mapping[str, Any]) -> Route:
    """The intent and the response selector's choice for it (or its ``default``) in a parse."""
    intent = parse.get("intent") or {}
    name = intent.get("name")
    selector: Mapping[str, Any] = parse.get("response_selector") or {}
    entry = selector.get(name) if isinstance(name, str) and name in selector else selector.get("default")
    response = (entry or {}).get("response") or {}
    key = response.get("intent_response_key") or response.get("full_retrieval_intent")
    return Route(
        intent=name,
        intent_confidence=float(intent.get("confidence") or 0.0),
        key=str(key) if key and str(key).startswith(f"{name}/") else None,
        key_confidence=float(response.get("confidence") or 0.0),
    )


class ActionAnswerFromKnowledge:
    """Asks the knowledge base the latest client message; see the module docstring."""

    name = ACTION_NAME
    #: the one system event it writes: the gap, in the turn's own append
    system_events = frozenset({KnowledgeGapNoted})

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """One ``BotUttered`` with the answer and its sources, or the no-answer offer of a human."""
        message = tracker.latest_message
        question = (message.text or "").strip() if message else ""
        if not question or question.startswith("/"):
            return []
        language = (message.parse_data.language if message else None) or tracker.get_slot("language")
        route = route_of(message.parse_data.model_dump() if message else {})
        answer = await self.kb.ask(question, language or None, route=route)
        knowledge = {
            "answered": answer.answered,
            "mode": answer.mode,
            "confidence": answer.confidence,
            "sources": [s.model_dump() for s in answer.sources],
            "fallback_reason": answer.fallback_reason,
        }
        events: list[Event] = []
        if answer.answered:
            events.append(BotUttered(text=answer_text(answer), metadata={"knowledge": knowledge}))
        else:
            events.append(self._no_answer(answer.language, tracker, domain, nlg, channel, knowledge))
        if SOURCE_SLOT in domain.slots:
            events.append(SlotSet(name=SOURCE_SLOT, value=[s.article_id for s in answer.sources] or None))
        if answer.gap is not None:
            events.append(
                gap_event(question, answer.language, answer.gap.reason, answer.confidence, answer.gap.tried)
            )
        return events

    @staticmethod
    def _no_answer(
        language: str,
        tracker: Tracker,
        domain: Domain,
        nlg: ResponseRenderer,
        channel: str,
        knowledge: Mapping[str, Any],
    ) -> BotUttered:
        """The domain's ``utter_kb_no_answer`` when it has one, else our text with a human button."""
        if NO_ANSWER_RESPONSE in domain.responses:
            rendered = nlg.render(NO_ANSWER_RESPONSE, tracker, channel)
            if rendered is not None:
                return rendered.model_copy(update={"metadata": {**rendered.metadata, "knowledge": knowledge}})
        text = NO_ANSWER_TEXT.get(language, NO_ANSWER_TEXT["en"])
        button = {"title": HUMAN_BUTTON.get(language, HUMAN_BUTTON["en"]), "payload": HANDOFF_PAYLOAD}
        return BotUttered(text=text, data={"buttons": [button]}, metadata={"knowledge": knowledge})
