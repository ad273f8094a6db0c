"""The ``quality_scores`` read model on SQLite and PostgreSQL: a resolved conversation's bot and
agent replies scored by the rules in the append's transaction, rescored when resolved again,
equal to the fold of the log after a rebuild, backfilled on a database with history, gone with
its conversation; revision 0018 builds the table as defined and goes down cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, select, update

from bot.events import BotUttered, Event, HandoffStatus, HandoffStatusChanged, UserUttered
from bot.migrations import downgrade, upgrade
from bot.store import EventStore
from bot.store.tables import conversations
from handoff.projections import handoff_projectors, register_handoff_projections
from handoff.quality_scores import METADATA, StoredScore, quality_scores, scores_of, stored_scores

CID = "widget:qa-1"


def drift(connection: Connection) -> list[Event]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name in {"quality_scores", "conversations"}

    # the definition with the table its foreign key names (a copy: the module's stays as it is)
    metadata = MetaData(naming_convention=METADATA.naming_convention)
    conversations.to_metadata(metadata)
    quality_scores.to_metadata(metadata)
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return list(compare_metadata(context, metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def handed_off(agent: str = "anna", start: float = 100.0) -> list[Event]:
    """An upset client, a bot that hands off, an agent who greets, apologises and books."""
    return [
        UserUttered(text="My lashes are ruined and I am really upset.", timestamp=start),
        BotUttered(text="let me find a person for you", metadata={"sender": "bot"}, timestamp=start + 1),
        HandoffStatusChanged(
            from_status=HandoffStatus.BOT, to_status=HandoffStatus.QUEUED, actor="bot", timestamp=start + 2
        ),
        HandoffStatusChanged(
            from_status=HandoffStatus.QUEUED,
            to_status=HandoffStatus.ASSIGNED,
            actor=agent,
            metadata={"agent_id": agent},
            timestamp=start + 3,
        ),
        BotUttered(
            text="Hello, I am Anna. I am so sorry about your lashes.",
            metadata={"sender": "agent", "agent_id": agent},
            timestamp=start + 4,
        ),
        BotUttered(
            text="I have booked you a free correction on Friday at 14:00. Is there anything else I can do?",
            metadata={"sender": "agent", "agent_id": agent},
            timestamp=start + 5,
        ),
    ]


def resolved(actor: str = "anna", at: float = 110.0) -> HandoffStatusChanged:
    return HandoffStatusChanged(
        from_status=HandoffStatus.ASSIGNED, to_status=HandoffStatus.RESOLVED, actor=actor, timestamp=at
    )


def categories(score: StoredScore) -> dict[str, float | None]:
    return {c.category: c.score for c in score.categories}


async def all_scores(store: EventStore) -> dict[tuple[str, str], StoredScore]:
    from handoff.quality_scores import score_from_row

    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(quality_scores))).all()
    return {(r.conversation_id, r.speaker): score_from_row(r) for r in rows}


async def test_migrated_table_matches_its_definition_and_0018_goes_down_and_back(
    event_store: EventStore,
) -> None:
    async with event_store.engine.connect() as conn:
        assert "quality_scores" in await conn.run_sync(table_names)
        assert await conn.run_sync(drift) == []
    async with event_store.engine.begin() as conn:
        await conn.run_sync(downgrade, "0017")
    async with event_store.engine.connect() as conn:
        names = await conn.run_sync(table_names)
        assert "quality_scores" not in names
        assert {"events", "conversation_facts", "proactive_messages"} <= names  # the rest untouched
    async with event_store.engine.begin() as conn:
        await conn.run_sync(upgrade, "head")
    async with event_store.engine.connect() as conn:
        assert await conn.run_sync(drift) == []


async def test_a_resolution_scores_the_bot_and_the_agent_who_replied(event_store: EventStore) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    await event_store.append(CID, handed_off())
    assert await all_scores(event_store) == {}, "not resolved yet: nothing scored"
    await event_store.append(CID, [resolved()])
    async with event_store.engine.connect() as conn:
        bot, agent = await stored_scores(conn, CID)
    assert (bot.speaker, bot.agent_id, bot.replies) == ("bot", None, 1)
    assert (agent.speaker, agent.agent_id, agent.replies, agent.resolved_at) == ("agent", "anna", 2, 110.0)
    assert agent.overall == 1.0 and set(categories(agent).values()) == {1.0}
    bot_cats = categories(bot)
    # the bot's one line: no greeting, lower-case start, no closing, no apology to the upset client
    assert (bot_cats["greeting"], bot_cats["empathy"], bot_cats["closing"]) == (0.0, 0.0, 0.0)
    assert bot_cats["spelling_grammar"] == 0.75
    reasons = {c.category: c.reason for c in bot.categories}
    assert reasons["empathy"] == "the client was upset and nothing acknowledged it"
    assert all(c.source == "rules" for c in bot.categories + agent.categories)


async def test_a_reopened_conversation_is_rescored_when_resolved_again(event_store: EventStore) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    await event_store.append(CID, [*handed_off(), resolved()])
    await event_store.append(
        CID,
        [
            UserUttered(text="That's not what I asked, it is still broken", timestamp=200.0),
            HandoffStatusChanged(
                from_status=HandoffStatus.RESOLVED,
                to_status=HandoffStatus.QUEUED,
                actor="bot",
                timestamp=201.0,
            ),
            HandoffStatusChanged(
                from_status=HandoffStatus.QUEUED,
                to_status=HandoffStatus.ASSIGNED,
                actor="olga",
                metadata={"agent_id": "olga"},
                timestamp=202.0,
            ),
            BotUttered(
                text="calm down, as i said it is fine",
                metadata={"sender": "agent", "agent_id": "olga"},
                timestamp=203.0,
            ),
        ],
    )
    before = await all_scores(event_store)
    assert before[(CID, "agent")].agent_id == "anna", "scores change only at a resolution"
    await event_store.append(CID, [resolved("olga", 210.0)])
    agent = (await all_scores(event_store))[(CID, "agent")]
    assert (agent.agent_id, agent.replies, agent.resolved_at) == ("olga", 3, 210.0)
    cats = categories(agent)
    assert (cats["tone"], cats["comprehension"], cats["closing"]) == (0.0, 0.0, 0.0)


async def test_the_rows_equal_the_fold_of_the_log_after_tampering_and_a_rebuild(
    event_store: EventStore,
) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    ids = [f"widget:qa-{i}" for i in range(4)]
    for i, cid in enumerate(ids):
        batch = handed_off(agent=f"agent-{i % 2}", start=1000.0 * i)
        if i != 3:  # the last is still with its agent
            batch.append(resolved(f"agent-{i % 2}", 1000.0 * i + 9))
        await event_store.append(cid, batch)
    expected = {
        (s.conversation_id, s.speaker): s for cid in ids for s in scores_of(cid, await event_store.load(cid))
    }
    assert len(expected) == 6
    assert await all_scores(event_store) == expected
    async with event_store.engine.begin() as conn:
        await conn.execute(update(quality_scores).values(overall=0.0, agent_id="mallory"))
    assert await event_store.rebuild_projections(["quality_scores"]) == len(ids)
    assert await all_scores(event_store) == expected


async def test_a_database_with_resolved_history_is_scored_when_registered(event_store: EventStore) -> None:
    for projector in handoff_projectors():
        if projector.name != "quality_scores":  # as before revision 0018
            event_store.add_projector(projector)
    await event_store.append(CID, [*handed_off(), resolved()])
    assert await all_scores(event_store) == {}
    await register_handoff_projections(event_store)
    assert set(await all_scores(event_store)) == {(CID, "bot"), (CID, "agent")}


async def test_deleting_a_conversation_deletes_its_scores(event_store: EventStore) -> None:
    for projector in handoff_projectors():
        event_store.add_projector(projector)
    await event_store.append(CID, [*handed_off(), resolved()])
    assert await all_scores(event_store)
    async with event_store.engine.begin() as conn:
        await conn.execute(conversations.delete().where(conversations.c.id == CID))
    assert await all_scores(event_store) == {}
