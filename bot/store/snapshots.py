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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.tracker import Tracker

if TYPE_CHECKING:
    from bot.domain import Domain
    from bot.events import Event
    from bot.store.event_store import EventStore

#: conversations whose snapshot a process keeps (least recently used ones are dropped)
DEFAULT_SIZE = 2_000


@dataclass(slots=True)
class _Snapshot:
    tracker: Tracker
    seq: int
    domain: Domain


def _sender(conversation_id: str) -> str:
    return conversation_id.split(":", 1)[-1]


def _same(a: Event, b: Event) -> bool:
    return a.event == b.event and a.timestamp == b.timestamp


class TrackerSnapshots:
    """Per-conversation trackers folded up to a ``seq``, checked out by a turn and back in
    after its commit. Not shared between processes; one per :class:`~bot.engine.Engine`.
    Callers serialise turns of one conversation (the engine's conversation lock)."""

    def __init__(self, store: EventStore, size: int = DEFAULT_SIZE) -> None:
        self.store = store
        self.size = size
        self._kept: OrderedDict[str, _Snapshot] = OrderedDict()
        self._out: OrderedDict[str, _Snapshot] = OrderedDict()
        #: full folds and incremental reads so far (the benchmark reports them)
        self.folds = 0
        self.hits = 0

    async def checkout(self, conversation_id: str, domain: Domain) -> Tracker:
        """The conversation's tracker at its last stored event, for a turn to extend.

        The caller owns the returned tracker until :meth:`checkin`; it is not kept meanwhile.
        """
        kept = self._kept.pop(conversation_id, None)
        if kept is not None and kept.domain is domain and kept.seq > 0:
            stored, last = await self.store.load_with_seq(conversation_id, after_seq=kept.seq - 1)
            if stored and stored[0].seq == kept.seq and _same(stored[0].event, kept.tracker.events[-1]):
                for item in stored[1:]:
                    kept.tracker.update(item.event)
                kept.seq = last
                self.hits += 1
                return self._lend(conversation_id, kept)
        stored, last = await self.store.load_with_seq(conversation_id)
        tracker = Tracker.for_domain(_sender(conversation_id), domain, [s.event for s in stored])
        self.folds += 1
        return self._lend(conversation_id, _Snapshot(tracker, last, domain))

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
