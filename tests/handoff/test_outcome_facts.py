"""The facts the outcome rules read, as the projector writes them in the append's
transaction (real SQLite and PostgreSQL): questions, answers, fallbacks, the first handoff,
resolution and reopen, CSAT, sentiment ends; agents' lines listed unless never sent."""

from __future__ import annotations

from sqlalchemy import select

from bot.channels.outbox_projection import NOT_SENT
from bot.events import BotUttered, CsatRecorded, CsatRequested
from bot.store import EventStore
from handoff.projections import (
    agent_replies,
    conversation_facts,
    facts_from_row,
    register_handoff_projections,
)
from tests.console.services.analytics_log import (
    T,
    agent_line,
    answer,
    assign,
    dont_know,
    handoff,
    resolve,
    said,
)


async def test_the_facts_and_agent_replies_of_a_scripted_conversation(event_store: EventStore) -> None:
    await register_handoff_projections(event_store)
    cid = "telegram:42"
    await event_store.append(cid, [said(T, "greet", "hi", sentiment=0.3), answer(T + 1, "utter_greet")])
    await event_store.append(cid, [said(T + 10, "ask_prices", sentiment=-0.2), dont_know(T + 11)])
    await event_store.append(
        cid, [said(T + 20, "ask_prices"), answer(T + 21), said(T + 30, "thank", sentiment=0.6)]
    )
    await event_store.append(cid, [*handoff(T + 40, "Premium", "rule:vip_complaint"), assign(T + 41, "anna")])
    unsent = BotUttered(
        text="later", metadata={"sender": "agent", NOT_SENT: "outside_window"}, timestamp=T + 50
    )
    seqs = await event_store.append(cid, [unsent, agent_line(T + 60, "anna")])
    await event_store.append(
        cid,
        [
            resolve(T + 100, "anna"),
            CsatRequested(timestamp=T + 101),
            CsatRecorded(score=5, timestamp=T + 150),
        ],
    )
    await event_store.append(cid, [said(T + 5000, "complaint", "again")])
    async with event_store.engine.connect() as conn:
        facts = facts_from_row(
            (
                await conn.execute(
                    select(conversation_facts).where(conversation_facts.c.conversation_id == cid)
                )
            ).one()
        )
        replies = (await conn.execute(select(agent_replies.c.seq, agent_replies.c.agent_id))).all()
    assert (facts.substantive_messages, facts.answers, facts.fallbacks) == (3, 1, 1)
    assert facts.confirmed and not facts.last_answer_fallback  # the thanks came after a real answer
    assert (facts.queued_at, facts.handoff_tier, facts.handoff_reason, facts.agent_id) == (
        T + 40,
        "Premium",
        "rule:vip_complaint",
        "anna",
    )
    assert (facts.resolved_at, facts.reopened_after, facts.returned_after) == (T + 100, 4900.0, 4970.0)
    assert (facts.csat_requested, facts.csat_score) == (True, 5)
    assert (facts.sentiment_first, facts.sentiment_last) == (0.3, 0.6)
    assert [(r.seq, r.agent_id) for r in replies] == [(seqs[1], "anna")]  # the unsent line is not a reply
