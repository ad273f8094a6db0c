"""Live updates for the workspace: one poller per app watching the event log, many sockets.

The event log is the only truth, and it is shared by every process serving the bot, so
the hub watches the log itself rather than in-process notifications: while at least one
console socket is open it reads the events appended since its cursor (the ``events``
table's id, an index range scan) every ``interval`` seconds, or at once after a change
made through this process (:meth:`WorkspaceHub.poke`). It then tells each subscriber which
conversations changed, and when a handoff moved (or a waiting client wrote) it rebuilds
the queue once and hands the same snapshot to every subscriber.

Ids committed out of order by concurrent writers could hide a change from the cursor, so
every ``refresh`` seconds the queue is rebuilt anyway and subscribers get a ``tick`` to
catch up their open conversation by ``seq``. Subscribers never queue up work: a pending
snapshot is replaced by a newer one and changed conversations are merged, so a slow socket
costs memory for one snapshot, not a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.periodic import cancel_and_wait
from bot.store.tables import events
from console.services.workspace.mentions import MENTIONS_KEY, Mention
from console.services.workspace.models import QueueView
from console.services.workspace.queue import QueueBuilder

log = logging.getLogger(__name__)

HANDOFF_TYPES = frozenset({"handoff_status", "handoff_requested"})
NOTE_TYPE = "agent_note"
BATCH = 1000


def signature(view: QueueView) -> tuple[tuple[object, ...], ...]:
    """What the queue shows apart from the ticking clocks: a changed signature is pushed."""
    return tuple(
        (
            e.conversation_id,
            e.status,
            e.assigned_to,
            e.tier,
            e.reason,
            e.language,
            e.sentiment,
            e.answered,
            e.last_message,
            e.rule_priority,
        )
        for e in view.entries
    )


class Subscription:
    """One socket's pending updates: the newest queue snapshot and the conversations that changed."""

    def __init__(self, agent_id: str | None = None) -> None:
        self.agent_id = agent_id  # whose @mentions this socket is told about
        self.queue: QueueView | None = None
        self.conversations: set[str] = set()
        self.mentions: list[Mention] = []
        self.tick = False
        self.closed = False
        self._wake = asyncio.Event()

    def take_mentions(self) -> list[Mention]:
        """The @mentions of this socket's agent since the last call."""
        taken, self.mentions = self.mentions, []
        return taken

    def wake(self) -> None:
        """Wake the waiter (new updates, or the socket is closing)."""
        self._wake.set()

    async def next(self) -> tuple[QueueView | None, set[str], bool]:
        """Wait for updates, then take them all: (queue snapshot or None, changed ids, tick)."""
        await self._wake.wait()
        self._wake.clear()
        queue, conversations, tick = self.queue, self.conversations, self.tick
        self.queue, self.conversations, self.tick = None, set(), False
        return queue, conversations, tick


class WorkspaceHub:
    """Watches the event log while anyone listens; see the module docstring."""

    def __init__(
        self,
        db: AsyncEngine,
        queue: QueueBuilder,
        *,
        interval: float = 0.5,
        refresh: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.queue = queue
        self.interval = interval
        self.refresh = refresh
        self.clock = clock
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()
        self._signature: tuple[tuple[object, ...], ...] | None = None
        self._open_ids: set[str] = set()

    @property
    def listening(self) -> int:
        """How many subscribers are connected."""
        return len(self._subscribers)

    def subscribe(self, agent_id: str | None = None) -> Subscription:
        """A new subscriber (``agent_id``: told when a note mentions them); starts the poller
        if it is the first."""
        subscription = Subscription(agent_id)
        self._subscribers.add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="workspace-hub")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscriber (the poller stops by itself when nobody is left)."""
        subscription.closed = True
        self._subscribers.discard(subscription)

    def poke(self) -> None:
        """Look at the log now (after a change made through this process)."""
        self._poke.set()

    async def close(self) -> None:
        """Stop the poller."""
        self._subscribers.clear()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _max_id(self) -> int:
        async with self.db.connect() as conn:
            return int((await conn.execute(select(func.max(events.c.id)))).scalar() or 0)

    async def _since(self, cursor: int) -> list[tuple[int, str, str]]:
        stmt = (
            select(events.c.id, events.c.conversation_id, events.c.type)
            .where(events.c.id > cursor)
            .order_by(events.c.id)
            .limit(BATCH)
        )
        async with self.db.connect() as conn:
            return [(int(r.id), str(r.conversation_id), str(r.type)) for r in await conn.execute(stmt)]

    def _broadcast(
        self, queue: QueueView | None = None, conversations: set[str] | None = None, tick: bool = False
    ) -> None:
        for subscription in list(self._subscribers):
            if queue is not None:
                subscription.queue = queue
            if conversations:
                subscription.conversations |= conversations
            subscription.tick = subscription.tick or tick
            subscription.wake()

    async def _mentions(self, note_ids: list[int]) -> None:
        """Tell the mentioned agents' sockets about new notes that @mention them."""
        if not note_ids or not any(s.agent_id for s in self._subscribers):
            return
        stmt = select(events.c.conversation_id, events.c.seq, events.c.data).where(events.c.id.in_(note_ids))
        async with self.db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        for row in rows:
            named = (row.data.get("metadata") or {}).get(MENTIONS_KEY) or []
            mention = Mention(
                conversation_id=row.conversation_id, seq=row.seq, author=str(row.data.get("author", ""))
            )
            for subscription in self._subscribers:
                if subscription.agent_id in named:
                    subscription.mentions.append(mention)

    async def _rebuild(self) -> None:
        view = await self.queue.build()
        mark = signature(view)
        self._open_ids = {e.conversation_id for e in view.entries}
        if mark != self._signature:
            self._signature = mark
            self._broadcast(queue=view)

    async def _run(self) -> None:
        cursor: int | None = None
        last_full = self.clock()
        while self._subscribers:
            self._poke.clear()  # a poke during this round makes the next one start at once
            try:
                if cursor is None:
                    cursor = await self._max_id()
                    await self._rebuild()  # covers changes between a socket's snapshot and the cursor
                rows = await self._since(cursor)
                touched = {conversation_id for _, conversation_id, _ in rows}
                if rows:
                    cursor = rows[-1][0]
                    await self._mentions([row_id for row_id, _, kind in rows if kind == NOTE_TYPE])
                    self._broadcast(conversations=touched)
                moved = any(kind in HANDOFF_TYPES for _, _, kind in rows)
                due = self.clock() - last_full >= self.refresh
                if moved or touched & self._open_ids or due:
                    await self._rebuild()
                    last_full = self.clock()
                if due:
                    self._broadcast(tick=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away; sockets keep their last view
                log.exception("workspace: reading the event log failed; retrying")
                await asyncio.sleep(self.interval * 4)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=self.interval)
