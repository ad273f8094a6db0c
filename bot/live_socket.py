"""The send and catch-up code every live socket shares (the chat widget and the agent console).

A socket shows a conversation's lines from the event log only, in ``seq`` order and each
at most once: :meth:`SeqSocket.catch_up` reads what came after the last ``seq`` sent and
writes it, under one lock with every other frame, so frames never interleave. A socket
follows a conversation with :meth:`SeqSocket.follow`: it subscribes to the
:class:`~bot.live.LiveFeed` first and only then catches up, so a line stored while it was
subscribing is never skipped (the caller waits for ``subscribed``, then reads); each
notice (or gap notice) triggers another catch-up. A socket that must stay cheap while idle
(the widget: thousands per worker) takes notices by callback instead (``subscribe(...,
on_batch=...)`` and :meth:`SeqSocket.notice`): a catch-up task runs only while there is
something to send, and notices arriving meanwhile make it run once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from fastapi import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)


class Numbered(Protocol):
    """A line with its event ``seq`` (a ``TranscriptEntry``, a console ``WorkspaceLine``)."""

    @property
    def seq(self) -> int: ...


Line = TypeVar("Line", bound=Numbered)
Frame = dict[str, object]


class Watch(Protocol):
    """What :meth:`SeqSocket.follow` needs of a feed subscription."""

    async def ready(self, within: float = ...) -> bool: ...
    def __aiter__(self) -> AsyncIterator[Any]: ...
    async def aclose(self) -> None: ...


class SeqSocket:
    """One WebSocket: ordered JSON frames and the ``seq`` of the last line it showed."""

    __slots__ = ("_again", "_catching", "closed", "lock", "sent_seq", "ws")

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.sent_seq: int | None = None
        self.closed = False
        self.lock = asyncio.Lock()  # frames and catch-ups never interleave
        self._catching: asyncio.Task[None] | None = None  # the catch-up a notice started
        self._again = False  # a notice came while it ran: run once more

    def notice(self, catch_up: Callable[[], Awaitable[object]]) -> None:
        """A feed notice (a callback, no await): run ``catch_up`` soon, in a task that ends
        once it is done; notices arriving while it runs make it run once more, never two at
        a time. So a socket holds a task only while it has lines to send."""
        if self.closed:
            return
        if self._catching is not None:
            self._again = True
            return
        self._catching = asyncio.get_running_loop().create_task(self._catch_up_on_notices(catch_up))

    async def _catch_up_on_notices(self, catch_up: Callable[[], Awaitable[object]]) -> None:
        try:
            while True:
                self._again = False
                await catch_up()
                if not self._again or self.closed:
                    return
        except Exception:  # the socket still works; lines then arrive on the next catch-up
            log.exception("live socket: catching up after a notice failed")
        finally:
            self._catching = None

    def stop(self) -> None:
        """The client left: send nothing more, and drop a catch-up under way."""
        self.closed = True
        if self._catching is not None:
            self._catching.cancel()

    async def send(self, frame: Frame) -> None:
        """Write one frame after whatever is being written now."""
        async with self.lock:
            await self.write(frame)

    async def write(self, frame: Frame) -> None:
        """Write one frame; the caller holds :attr:`lock`. A gone client just closes the socket:
        what it missed waits in the log for its next (re)connect."""
        if self.closed:
            return
        try:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True

    async def catch_up(
        self,
        read: Callable[[int | None], Awaitable[Sequence[Line]]],
        frames: Callable[[list[Line]], list[Frame]],
        *,
        after: int | None = None,
        reset: bool = False,
    ) -> bool:
        """Send the lines after :attr:`sent_seq` (or after ``after`` when ``reset``), in order.

        ``read(after_seq)`` reads them from the log; ``frames(lines)`` shapes them (it may
        return no frame for no line). Returns False when reading failed (logged; the next
        notice or reconnect tries again).
        """
        async with self.lock:
            return await self.catch_up_locked(read, frames, after=after, reset=reset)

    async def catch_up_locked(
        self,
        read: Callable[[int | None], Awaitable[Sequence[Line]]],
        frames: Callable[[list[Line]], list[Frame]],
        *,
        after: int | None = None,
        reset: bool = False,
    ) -> bool:
        """:meth:`catch_up` for a caller already holding :attr:`lock` (a (re)connect that
        subscribes and sends its first lines while no notice may slip in between)."""
        if self.closed:
            return True
        cursor = after if reset else self.sent_seq
        try:
            lines = await read(cursor)
        except Exception:
            log.exception("live socket: reading the conversation failed")
            return False
        fresh = [line for line in lines if cursor is None or line.seq > cursor]
        for frame in frames(fresh):
            await self.write(frame)
        self.sent_seq = fresh[-1].seq if fresh else cursor
        return True

    async def follow(
        self,
        watch: Watch,
        catch_up: Callable[[], Awaitable[object]],
        subscribed: asyncio.Event | None = None,
    ) -> None:
        """Catch up after every notice, until cancelled or the socket closes.

        ``subscribed`` is set once the feed delivers (or gave up waiting): the caller then
        reads the history (its first catch-up) with no window in which a line is missed.
        A caller holding :attr:`lock` meanwhile keeps notices from catching up before it.
        """
        try:
            await watch.ready()
            if subscribed is not None:
                subscribed.set()
            async for _batch in watch:
                if self.closed:
                    return
                await catch_up()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket still works; lines then arrive on the next catch-up
            log.exception("live socket: following a conversation stopped")
        finally:
            if subscribed is not None:
                subscribed.set()
            with contextlib.suppress(Exception):
                await watch.aclose()
