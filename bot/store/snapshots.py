"""Tracker snapshots: a turn reads only the events it has not folded yet.

Rebuilding a conversation's tracker means reading and parsing its whole log and folding
every event, on every turn, so a turn got dearer the longer the conversation. A
:class:`TrackerSnapshots` keeps, per conversation, the tracker as folded up to a ``seq``
(in this process, LRU-bounded). A turn checks the tracker out with ONE read on one
connection (:meth:`EventStore.load_with_seq` from the snapshot's own last event on), folds
only what is new, and checks it back in once its events are committed.

Why it stays right across processes and failures: the snapshot is keyed by the ``seq``
it was folded to, and the read starts AT that seq, so the stored event there must be the
one the snapshot folded last (same type and timestamp) and the rows after it are
whatever any process appended since. A log that moved backwards, was erased, or was
rewritten under the same id fails that check and is folded from scratch. A turn that
failed, or whose events were not exactly the ones the tracker saw, is never checked in.
The fold itself is :meth:`Tracker.update`, the same one a full rebuild runs, so a
snapshot equals ``Tracker.for_domain(sender, domain, whole_log)`` (tests check it).

Persisted too (``tracker_snapshots``, revision 0013), so the first turn after a restart, or
on another worker, reads one row and the events after it instead of folding the whole log:
:class:`SnapshotProjector` writes the turn's tracker in the turn's own append transaction,
at most once per :data:`PERSIST_EVERY` events of a conversation (serialising a tracker costs
as much as its log is long). A row names the domain fingerprint it was folded with (a
changed domain ignores it) and the seq, type and timestamp of its last event (a log that
no longer has that event there ignores it); it cascades with its conversation, and
``concierge projections rebuild`` empties the table (each conversation's next turn folds
its log and writes it again).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.events import HandoffStatus, UserUttered, event_from_dict, events_from_dicts
from bot.store.tables import tracker_snapshots
from bot.tracker import LoopState, Tracker

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from bot.domain import Domain
    from bot.events import Event
    from bot.store.event_store import EventStore, StoredEvent

log = logging.getLogger(__name__)

#: conversations whose snapshot a process keeps (least recently used ones are dropped)
DEFAULT_SIZE = 2_000
#: a conversation's stored snapshot is rewritten once it is this many events behind
PERSIST_EVERY = 16
#: the stored state's layout (part of the fingerprint: a new layout ignores old rows)
STATE_FORMAT = 1
PROJECTOR_NAME = "tracker_snapshots"


@dataclass(slots=True)
class _Snapshot:
    tracker: Tracker
    seq: int
    domain: Domain
    #: the seq of this conversation's stored row (0: none known)
    saved: int = 0


#: id(domain) -> (domain, its fingerprint); the domain is held so its id is not reused
_fingerprints: dict[int, tuple[Domain, str]] = {}


def fingerprint(domain: Domain) -> str:
    """What a stored snapshot was folded with: the domain (its slots and initial values are
    all a fold reads of it) and the state layout. Computed once per domain object."""
    known = _fingerprints.get(id(domain))
    if known is not None and known[0] is domain:
        return known[1]
    digest = hashlib.sha256(f"tracker-state-{STATE_FORMAT}".encode())
    digest.update(domain.model_dump_json().encode())
    if len(_fingerprints) >= 16:  # a process runs one domain; tests build a few
        _fingerprints.clear()
    _fingerprints[id(domain)] = (domain, digest.hexdigest())
    return digest.hexdigest()


def tracker_state(tracker: Tracker) -> dict[str, Any]:
    """A tracker as JSON: its events in wire format and what the fold derived from them."""
    loop = tracker.active_loop
    return {
        "events": tracker.wire_events(),  # dumped once per event, not once per write
        "slots": tracker.slots,
        "latest_message": tracker.latest_message.to_dict() if tracker.latest_message else None,
        "latest_action_name": tracker.latest_action_name,
        "active_loop": {
            "name": loop.name,
            "validate": loop.validate,
            "rejected": loop.rejected,
            "trigger_message": loop.trigger_message,
        },
        "followup_action": tracker.followup_action,
        "paused": tracker.paused,
        "handoff_status": str(tracker.handoff_status),
    }


def tracker_from_state(sender_id: str, domain: Domain, state: dict[str, Any]) -> Tracker:
    """The tracker :func:`tracker_state` wrote, without folding its events again."""
    base = Tracker.for_domain(sender_id, domain)
    latest = event_from_dict(state["latest_message"]) if state["latest_message"] else None
    return Tracker(
        sender_id=sender_id,
        initial_slots=base.initial_slots,
        events=events_from_dicts(state["events"]),
        slots=dict(state["slots"]),
        latest_message=latest if isinstance(latest, UserUttered) else None,
        latest_action_name=state["latest_action_name"],
        active_loop=LoopState(**state["active_loop"]),
        followup_action=state["followup_action"],
        paused=state["paused"],
        handoff_status=HandoffStatus(state["handoff_status"]),
    )


def _sender(conversation_id: str) -> str:
    return conversation_id.split(":", 1)[-1]


def _same(a: Event, b: Event) -> bool:
    return a.event == b.event and a.timestamp == b.timestamp


class TrackerSnapshots:
    """Per-conversation trackers folded up to a ``seq``, checked out by a turn and back in
    after its commit. Not shared between processes; one per :class:`~bot.engine.Engine`.
    Callers serialise turns of one conversation (the engine's conversation lock)."""

    def __init__(self, store: EventStore, size: int = DEFAULT_SIZE, *, persist: bool = True) -> None:
        self.store = store
        self.size = size
        self._kept: OrderedDict[str, _Snapshot] = OrderedDict()
        self._out: OrderedDict[str, _Snapshot] = OrderedDict()
        #: full folds, incremental reads, and reads from a stored snapshot so far (the
        #: benchmark reports them)
        self.folds = 0
        self.hits = 0
        self.loaded = 0
        self.persist = persist
        if persist and not any(p.name == PROJECTOR_NAME for p in store.projectors):
            store.add_projector(SnapshotProjector(self))  # the first per store writes them

    async def checkout(self, conversation_id: str, domain: Domain) -> Tracker:
        """The conversation's tracker at its last stored event, for a turn to extend.

        The caller owns the returned tracker until :meth:`checkin`; it is not kept meanwhile.
        """
        return (await self.checkout_at(conversation_id, domain))[0]

    async def checkout_at(self, conversation_id: str, domain: Domain) -> tuple[Tracker, int]:
        """:meth:`checkout`, and the conversation's last ``seq`` as read with it: the turn's
        ``expected_seq`` (a conflicting append means the tracker was stale)."""
        kept = self._kept.pop(conversation_id, None)
        if kept is not None and kept.domain is domain and kept.seq > 0:
            stored, last = await self.store.load_with_seq(conversation_id, after_seq=kept.seq - 1)
            if stored and stored[0].seq == kept.seq and _same(stored[0].event, kept.tracker.events[-1]):
                for item in stored[1:]:
                    kept.tracker.update(item.event)
                kept.seq = last
                self.hits += 1
                return self._lend(conversation_id, kept), last
        if self.persist:
            loaded = await self._load(conversation_id, domain)
            if loaded is not None:
                self.loaded += 1
                last = loaded.seq
                return self._lend(conversation_id, loaded), last
        stored, last = await self.store.load_with_seq(conversation_id)
        tracker = Tracker.for_domain(_sender(conversation_id), domain, [s.event for s in stored])
        self.folds += 1
        return self._lend(conversation_id, _Snapshot(tracker, last, domain)), last

    async def _load(self, conversation_id: str, domain: Domain) -> _Snapshot | None:
        """The stored snapshot extended by the events after it; None when there is none for
        this domain, or the log no longer has its last event where it was."""
        stmt = select(tracker_snapshots).where(
            tracker_snapshots.c.conversation_id == conversation_id,
            tracker_snapshots.c.fingerprint == fingerprint(domain),
        )
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None or row.seq <= 0:
            return None
        stored, last = await self.store.load_with_seq(conversation_id, after_seq=row.seq - 1)
        if not stored or stored[0].seq != row.seq:
            return None
        head = stored[0].event
        if head.event != row.last_type or head.timestamp != row.last_timestamp:
            return None
        try:
            tracker = tracker_from_state(_sender(conversation_id), domain, row.state)
        except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            log.warning("a stored tracker snapshot could not be read; folding the log instead")
            return None
        if len(tracker.events) != row.seq:
            return None
        for item in stored[1:]:
            tracker.update(item.event)
        return _Snapshot(tracker, last, domain, saved=row.seq)

    def checkin(self, conversation_id: str, seqs: Sequence[int] | None) -> None:
        """The turn's events were committed as ``seqs`` (empty: it wrote none), or the turn
        failed (None). Keep the tracker only when it holds exactly the committed log."""
        lent = self._out.pop(conversation_id, None)
        if lent is None or seqs is None:
            return
        seq = seqs[-1] if seqs else lent.seq
        contiguous = not seqs or (seqs[0] == lent.seq + 1 and len(seqs) == seqs[-1] - lent.seq)
        if not contiguous or len(lent.tracker.events) != seq or seq == 0:
            return  # someone else's events landed in between, or the tracker saw other events
        lent.seq = seq
        self._kept[conversation_id] = lent
        self._kept.move_to_end(conversation_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def forget(self, conversation_id: str | None = None) -> None:
        """Drop what is kept (for one conversation, or all), e.g. after erasing a conversation."""
        if conversation_id is None:
            self._kept.clear()
        else:
            self._kept.pop(conversation_id, None)

    def _lend(self, conversation_id: str, snapshot: _Snapshot) -> Tracker:
        if snapshot.seq != len(snapshot.tracker.events):
            # the log has holes (events removed from a conversation): correct, never kept
            snapshot.seq = -1
        self._out[conversation_id] = snapshot
        while len(self._out) > self.size:  # turns that never checked back in (their append failed)
            self._out.popitem(last=False)
        return snapshot.tracker


class SnapshotProjector:
    """Writes a turn's tracker to ``tracker_snapshots`` in the turn's append transaction.

    Only the tracker a turn checked out and extended with exactly the events being appended
    is written (never events from outside a turn: those are folded on the next read), and
    only when the stored row is :data:`PERSIST_EVERY` or more events behind."""

    name = PROJECTOR_NAME
    handles: frozenset[str] = frozenset()  # every event

    def __init__(self, snapshots: TrackerSnapshots) -> None:
        self.snapshots = snapshots

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Store the lent tracker when it holds exactly the log up to the last of ``stored``."""
        lent = self.snapshots._out.get(conversation_id)
        if lent is None or not stored or lent.seq < 0:
            return
        seq = stored[-1].seq
        tracker = lent.tracker
        if seq - lent.saved < PERSIST_EVERY or stored[0].seq != lent.seq + 1 or len(tracker.events) != seq:
            return
        tail = tracker.events[len(tracker.events) - len(stored) :]
        if any(a is not b.event for a, b in zip(tail, stored, strict=True)):
            return  # not the events this tracker saw (a failed turn's safe reply)
        state = tracker_state(tracker)
        try:
            json.dumps(state)
        except (TypeError, ValueError):
            return  # a slot value the log would have stored differently: never persisted
        values = {
            "conversation_id": conversation_id,
            "seq": seq,
            "fingerprint": fingerprint(lent.domain),
            "last_type": stored[-1].event.event,
            "last_timestamp": stored[-1].event.timestamp,
            "state": self.snapshots.store._json(state),
            "updated_at": datetime.now(UTC),
        }
        await conn.execute(_upsert_statement(conn.dialect.name), values)
        lent.saved = seq

    async def reset(self, conn: AsyncConnection) -> None:
        """Delete every stored snapshot (each conversation's next turn folds its log again)."""
        await conn.execute(tracker_snapshots.delete())


@lru_cache(maxsize=4)
def _upsert_statement(dialect: str) -> Any:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(tracker_snapshots)
    columns = ("seq", "fingerprint", "last_type", "last_timestamp", "state", "updated_at")
    return stmt.on_conflict_do_update(
        index_elements=[tracker_snapshots.c.conversation_id],
        set_={name: stmt.excluded[name] for name in columns},
    )
