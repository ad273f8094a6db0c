"""A synthetic day of conversations with known outcomes, written through the real event
store (so the read models are what analytics reads), for the analytics tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from bot.channels.outbox import outbox_insert
from bot.channels.outbox_projection import outbox_key
from bot.channels.tables import outbox
from bot.events import (
    BotUttered,
    CsatRecorded,
    CsatRequested,
    Event,
    HandoffRequested,
    HandoffStatusChanged,
    IntentPrediction,
    ParseData,
    SentimentScore,
    UserUttered,
)
from bot.models import OutboundMessage
from bot.store import EventStore

DAY = dt.date(2026, 4, 10)
T = dt.datetime.combine(DAY, dt.time(10), dt.UTC).timestamp()  # 10:00 UTC that day
NOW = T + 10 * 86400  # every reopen window of the day has closed
HOUR, DAY_S = 3600.0, 86400.0


def said(
    at: float,
    intent: str,
    text: str = "a question",
    *,
    sentiment: float | None = None,
    lang: str | None = None,
) -> UserUttered:
    """A client line the NLU named ``intent``."""
    parse = ParseData(
        text=text,
        intent=IntentPrediction(name=intent, confidence=0.9),
        language=lang,
        sentiment=SentimentScore.of(sentiment) if sentiment is not None else None,
    )
    return UserUttered(text=text, parse_data=parse, timestamp=at)


def answer(at: float, utter: str = "utter_opening_hours") -> BotUttered:
    """A real answer of the bot."""
    return BotUttered(text="We open at 8.", metadata={"utter_action": utter}, timestamp=at)


def dont_know(at: float) -> BotUttered:
    """The knowledge base's "I don't know"."""
    return BotUttered(text="I am not sure.", metadata={"knowledge": {"answered": False}}, timestamp=at)


def handoff(at: float, tier: str, reason: str) -> list[Event]:
    """A handoff request and the ``bot -> queued`` move at ``tier``."""
    return [
        HandoffRequested(reason=reason, timestamp=at),
        HandoffStatusChanged(
            from_status="bot", to_status="queued", actor="bot", metadata={"tier": tier}, timestamp=at
        ),
    ]


def assign(at: float, agent: str) -> HandoffStatusChanged:
    return HandoffStatusChanged(
        from_status="queued", to_status="assigned", actor=agent, metadata={"agent_id": agent}, timestamp=at
    )


def resolve(at: float, agent: str) -> HandoffStatusChanged:
    return HandoffStatusChanged(from_status="assigned", to_status="resolved", actor=agent, timestamp=at)


def agent_line(at: float, agent: str) -> BotUttered:
    return BotUttered(text="Anna here", metadata={"sender": "agent", "agent_id": agent}, timestamp=at)


async def sent_as(store: EventStore, conversation_id: str, seq: int, status: str) -> None:
    """The outbox row of a stored line, as the delivery worker left it (``sent`` or ``failed``)."""
    channel, recipient = conversation_id.split(":", 1)
    message = OutboundMessage(channel=channel, recipient_id=recipient, text="Anna here", sender="agent")
    async with store.engine.begin() as conn:
        await conn.execute(
            outbox_insert(
                conn.dialect.name, [(outbox_key(conversation_id, seq), message)], dt.datetime.now(dt.UTC)
            )
        )
        await conn.execute(
            update(outbox)
            .where(outbox.c.idempotency_key == outbox_key(conversation_id, seq))
            .values(status=status, last_error="chat not found" if status == "failed" else None)
        )


async def write_day(store: EventStore) -> None:
    """Thirteen rated conversations on ``DAY`` (outcomes in the tests' comments)."""
    await store.append("widget:faq1", [said(T, "ask_opening_hours", lang="pl"), answer(T + 1)])  # contained
    await store.append(  # contained, confirmed by a thank-you
        "widget:faq2",
        [said(T, "ask_prices"), answer(T + 1, "utter_prices"), said(T + 30, "thank", "thanks!")],
    )
    await store.append(  # unresolved: the core fallback
        "widget:idk",
        [
            said(T, "nlu_fallback", sentiment=0.1),
            BotUttered(text="Sorry?", metadata={"utter_action": "utter_default"}, timestamp=T + 1),
        ],
    )
    await store.append("widget:kbno", [said(T, "ask_prices"), dont_know(T + 1)])  # unresolved: I don't know
    await store.append("widget:abandon", [said(T, "book_appointment")])  # abandoned: no answer at all
    await store.append(  # unresolved: back within the 7 days
        "widget:return",
        [
            said(T, "ask_locations", sentiment=-0.4),
            answer(T + 1),
            said(T + 2 * DAY_S, "ask_locations", sentiment=0.2),
        ],
    )
    await store.append(  # contained: came back after 9 days (not first contact, though)
        "widget:late", [said(T, "ask_locations"), answer(T + 1), said(T + 9 * DAY_S, "ask_prices")]
    )
    await store.append(  # contained, rated 5 (the CSAT question is not an answer)
        "widget:rated",
        [
            said(T, "ask_prices"),
            answer(T + 1),
            CsatRequested(timestamp=T + 2),
            BotUttered(text="Rate us?", metadata={"utter_action": "utter_ask_csat"}, timestamp=T + 2),
            CsatRecorded(score=5, timestamp=T + 20),
        ],
    )
    await store.append(  # resolved by a person: VIP, answered in 30 s, rated 4
        "widget:vip",
        [
            said(T, "complaint"),
            *handoff(T + 1, "VIP", "rule:vip_complaint"),
            assign(T + 5, "anna"),
            agent_line(T + 31, "anna"),
            resolve(T + 600, "anna"),
            CsatRequested(timestamp=T + 601),
            CsatRecorded(score=4, timestamp=T + 700),
        ],
    )
    # Premium: the first agent reply failed to send; the one that arrived came 200 s in
    cid = "telegram:1001"
    await store.append(
        cid, [said(T, "request_human"), *handoff(T, "Premium", "client_request"), assign(T + 2, "olena")]
    )
    (failed,) = await store.append(cid, [agent_line(T + 20, "olena")])
    (sent,) = await store.append(cid, [agent_line(T + 200, "olena")])
    await store.append(cid, [resolve(T + 900, "olena"), CsatRequested(timestamp=T + 901)])
    await sent_as(store, cid, failed, "failed")
    await sent_as(store, cid, sent, "sent")
    # Standard: the only agent reply never reached the client: no first response, SLA missed
    cid = "telegram:1002"
    await store.append(
        cid, [said(T, "complaint"), *handoff(T, "Standard", "sentiment"), assign(T + 2, "olena")]
    )
    (lost,) = await store.append(cid, [agent_line(T + 20, "olena")])
    await sent_as(store, cid, lost, "failed")
    await store.append(  # still waiting for an agent (assisted)
        "widget:waiting", [said(T, "request_human"), *handoff(T + 1, "Standard", "client_request")]
    )
    await store.append(  # resolved, then reopened 2 days later: the reopen deducts it
        "widget:reopen",
        [
            said(T, "complaint"),
            *handoff(T, "VIP", "rule:vip_complaint"),
            assign(T + 1, "anna"),
            agent_line(T + 10, "anna"),
            resolve(T + 100, "anna"),
            said(T + 2 * DAY_S, "complaint", "it broke again"),
        ],
    )


async def write_flood(store: EventStore, count: int = 60, at: float = T) -> None:
    """``count`` conversations that only say hi (and get a greeting back)."""
    for n in range(count):
        await store.append(f"widget:hi{n}", [said(at + n, "greet", "hi"), answer(at + n + 1, "utter_greet")])
