"""Tracker snapshots equal the full fold of the log: across turns, writers in other
processes, failed turns, rewinds and restarts, and a conversation erased and written again;
on a real SQLite file and real PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain import Domain, SlotDef
from bot.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    HandoffStatusChanged,
    IntentPrediction,
    ParseData,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from bot.store import EventStore
from bot.store.snapshots import PROJECTOR_NAME, TrackerSnapshots
from bot.store.tables import conversations, tracker_snapshots
from bot.tracker import Tracker
from tests.database_support import BACKENDS, migrated_store

DOMAIN = Domain(
    slots={"cuisine": SlotDef(name="cuisine"), "tier": SlotDef(name="tier", initial_value="standard")}
)


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[EventStore]:
    async with migrated_store(request.param, tmp_path, postgres_url, "test_snapshots") as event_store:
        yield event_store


def random_events(rng: random.Random, clock: list[float]) -> list[Event]:
    out: list[Event] = []
    for _ in range(rng.randint(1, 5)):
        clock[0] += 1.0
        at = clock[0]
        kind = rng.random()
        if kind < 0.3:
            intent = rng.choice(["greet", "order", "bye"])
            out.append(
                UserUttered(
                    text=intent,
                    parse_data=ParseData(text=intent, intent=IntentPrediction(name=intent, confidence=0.9)),
                    timestamp=at,
                )
            )
        elif kind < 0.5:
            out.append(
                ActionExecuted(name=rng.choice(["action_listen", "utter_hi", "order_form"]), timestamp=at)
            )
        elif kind < 0.6:
            out.append(BotUttered(text="hi", timestamp=at))
        elif kind < 0.75:
            out.append(
                SlotSet(
                    name=rng.choice(["cuisine", "tier"]),
                    value=rng.choice(["thai", "vip", None]),
                    timestamp=at,
                )
            )
        elif kind < 0.8:
            out.append(ActiveLoop(name=rng.choice(["order_form", None]), timestamp=at))
        elif kind < 0.85:
            out.append(UserUtteranceReverted(timestamp=at))
        elif kind < 0.9:
            out.append(rng.choice([Restarted(timestamp=at), SessionStarted(timestamp=at)]))
        else:
            frm, to = rng.choice([("bot", "queued"), ("queued", "bot")])
            out.append(HandoffStatusChanged(from_status=frm, to_status=to, actor="bot", timestamp=at))
    return out


async def full_fold(store: EventStore, conversation_id: str) -> Tracker:
    return Tracker.for_domain(conversation_id.split(":", 1)[-1], DOMAIN, await store.events(conversation_id))


async def turn(
    snapshots: TrackerSnapshots, store: EventStore, cid: str, new: list[Event], *, fail: bool = False
) -> None:
    """What the engine does: check out, extend the tracker, append, check in."""
    tracker = await snapshots.checkout(cid, DOMAIN)
    for event in new:
        tracker.update(event)
    seqs = await store.append(cid, new)
    snapshots.checkin(cid, None if fail else seqs)


async def test_snapshots_equal_the_full_fold_with_other_writers_between_turns(store: EventStore) -> None:
    here, there = TrackerSnapshots(store), TrackerSnapshots(store)  # two processes
    rng = random.Random(13)
    clock = [1_000.0]
    ids = [f"test:s{i}" for i in range(5)]
    for step in range(150):
        cid = rng.choice(ids)
        writer = here if rng.random() < 0.7 else there
        roll = rng.random()
        if roll < 0.15:  # an agent or handoff append outside any turn
            await store.append(cid, random_events(rng, clock))
        else:
            await turn(writer, store, cid, random_events(rng, clock), fail=roll > 0.95)
        if step % 5 == 0:
            for check in ids:
                tracker = await here.checkout(check, DOMAIN)
                assert tracker.current_state() == (await full_fold(store, check)).current_state()
                here.checkin(check, [])
    assert here.hits > here.folds  # most reads were incremental


async def test_a_conversation_erased_and_written_again_is_folded_from_scratch(store: EventStore) -> None:
    snapshots = TrackerSnapshots(store)
    cid = "test:erased"
    await turn(
        snapshots,
        store,
        cid,
        [UserUttered(text="a", timestamp=1.0), SlotSet(name="cuisine", value="thai", timestamp=1.0)],
    )
    await turn(snapshots, store, cid, [BotUttered(text="b", timestamp=2.0)])
    async with store.engine.begin() as conn:
        await conn.execute(conversations.delete().where(conversations.c.id == cid))
    # another process writes the same id again, as long a log as before
    await store.append(
        cid,
        [
            UserUttered(text="x", timestamp=9.0),
            BotUttered(text="y", timestamp=9.0),
            BotUttered(text="z", timestamp=9.0),
        ],
    )
    tracker = await snapshots.checkout(cid, DOMAIN)
    assert tracker.get_slot("cuisine") is None
    assert tracker.current_state() == (await full_fold(store, cid)).current_state()


async def test_a_failed_turn_or_a_changed_domain_is_never_served_from_the_snapshot(store: EventStore) -> None:
    snapshots = TrackerSnapshots(store)
    cid = "test:failed"
    await turn(snapshots, store, cid, [UserUttered(text="a", timestamp=1.0)])
    tracker = await snapshots.checkout(cid, DOMAIN)
    tracker.update(SlotSet(name="cuisine", value="never stored", timestamp=2.0))  # the turn failed here
    snapshots.checkin(cid, None)
    again = await snapshots.checkout(cid, DOMAIN)
    assert again.get_slot("cuisine") is None
    snapshots.checkin(cid, [])
    other = DOMAIN.model_copy(
        update={"slots": {**DOMAIN.slots, "extra": SlotDef(name="extra", initial_value=1)}}
    )
    assert (await snapshots.checkout(cid, other)).get_slot("extra") == 1


async def test_a_restarted_process_reads_the_stored_snapshot_and_it_equals_the_full_fold(
    store: EventStore,
) -> None:
    writer = TrackerSnapshots(store)  # writes snapshots in its turns' append transactions
    rng = random.Random(7)
    clock = [5_000.0]
    ids = [f"test:p{i}" for i in range(4)]
    for _ in range(120):
        cid = rng.choice(ids)
        if rng.random() < 0.1:  # an append outside any turn: folded on the next read
            await store.append(cid, random_events(rng, clock))
        else:
            await turn(writer, store, cid, random_events(rng, clock), fail=rng.random() > 0.95)
    async with store.engine.connect() as conn:
        stored_rows = (await conn.execute(select(func.count()).select_from(tracker_snapshots))).scalar_one()
    assert stored_rows > 0
    restarted = TrackerSnapshots(store)  # another process, or this one after a restart: nothing kept
    for cid in ids:
        tracker = await restarted.checkout(cid, DOMAIN)
        expected = await full_fold(store, cid)
        assert tracker.current_state() == expected.current_state()
        assert tracker == expected
        restarted.checkin(cid, [])
    assert restarted.loaded > 0  # read from the table, not folded
    # a changed domain never reads them
    other = DOMAIN.model_copy(update={"slots": {**DOMAIN.slots, "extra": SlotDef(name="extra")}})
    fresh = TrackerSnapshots(store)
    await fresh.checkout(ids[0], other)
    assert (fresh.loaded, fresh.folds) == (0, 1)
    # rebuilt: emptied, every conversation folds its log again
    await store.rebuild_projections([PROJECTOR_NAME])
    again = TrackerSnapshots(store)
    tracker = await again.checkout(ids[0], DOMAIN)
    assert (again.loaded, again.folds) == (0, 1)
    assert tracker == await full_fold(store, ids[0])


async def test_a_stored_snapshot_whose_event_is_gone_is_not_used(store: EventStore) -> None:
    writer = TrackerSnapshots(store)
    cid = "test:rewritten"
    for i in range(6):
        events: list[Event] = [
            UserUttered(text=f"m{i}", timestamp=10.0 + i),
            SlotSet(name="cuisine", value=f"c{i}", timestamp=10.0 + i),
            BotUttered(text="ok", timestamp=10.0 + i),
        ]
        await turn(writer, store, cid, events)
    async with store.engine.begin() as conn:
        await conn.execute(conversations.delete().where(conversations.c.id == cid))
    await store.append(cid, [UserUttered(text=f"n{i}", timestamp=99.0 + i) for i in range(20)])
    reader = TrackerSnapshots(store)
    tracker = await reader.checkout(cid, DOMAIN)
    assert reader.loaded == 0 and tracker.get_slot("cuisine") is None
    assert tracker == await full_fold(store, cid)
