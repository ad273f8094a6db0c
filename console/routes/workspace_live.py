"""The workspace's live socket, ``WS /api/workspace/ws``, and the app's :class:`Workspace`.

Protocol (JSON text frames):

client -> server
    ``{"type": "open", "conversation_id": "widget:abc" | null, "last_seq": 12 | null}``: the
    conversation the agent has open (null: none) and the last line the page shows. Sent on
    every (re)connect and whenever the agent opens another conversation.

server -> client
    ``{"type": "me", "me": MeView}`` once, then ``{"type": "queue", "queue": QueueView}`` at
    once and whenever the queue changes (a new handoff, a claim, a status change, a waiting
    client writing). ``{"type": "lines", "conversation_id": ..., "lines": [WorkspaceLine]}``:
    the open conversation's lines after the last one sent, in ``seq`` order, each at most
    once per socket, so a page that reconnects with its ``last_seq`` loses nothing.
    ``{"type": "mention", "mention": {"conversation_id", "seq", "author"}}`` when a private
    note @mentions the signed-in agent (written on any console process).
    ``{"type": "error", "message": ...}`` for a frame it could not use (the socket stays up).

The socket closes with 4401 when the session ends (checked every few seconds) and 4403
for a role outside the workspace, like every console socket (``console.deps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, cast

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import HTTPConnection

from bot.live_socket import SeqSocket
from console.deps import WORKSPACE_ROLES, Unavailable, websocket_user
from console.running import running_services
from console.security.models import ConsoleUser
from console.security.sessions import SESSION_COOKIE
from console.services.workspace import CANNED_FILE, Workspace, WorkspaceError, load_canned_replies
from console.services.workspace.live import Subscription
from console.services.workspace.models import WorkspaceLine

log = logging.getLogger(__name__)

WS_SESSION_ENDED = 4401
WS_UNAVAILABLE = 1011


def workspace_for(connection: HTTPConnection) -> Workspace:
    """The app's workspace, built on first use once the engine runs; WorkspaceError otherwise."""
    app = connection.app
    services = running_services(connection)
    if services is None:
        raise WorkspaceError("the bot engine is not running yet; try again in a moment")
    current: Workspace | None = getattr(app.state, "workspace", None)
    if current is None or current.engine is not services.engine:
        canned = load_canned_replies(app.state.settings.project_dir / CANNED_FILE)
        current = Workspace(services, app.state.channels, canned)
        app.state.workspace = current
    return current


async def get_workspace(request: Request) -> Workspace:
    """Dependency: the app's workspace; when there is none, a stand-in that answers 503 with
    the reason once the route uses it (so a malformed request still gets its 422 first)."""
    try:
        return workspace_for(request)
    except WorkspaceError as exc:
        return cast(Workspace, Unavailable(str(exc)))


async def close_workspace(app: object) -> None:
    """Stop the workspace's background work (the app's shutdown)."""
    state = getattr(app, "state", None)
    workspace: Workspace | None = getattr(state, "workspace", None)
    if workspace is not None:
        await workspace.close()
        state.workspace = None  # type: ignore[union-attr]


class OpenFrame(BaseModel):
    """The conversation the page shows, and the last line it has."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["open"]
    conversation_id: str | None = Field(default=None, max_length=255)
    last_seq: int | None = Field(default=None, ge=0, le=2**31 - 1)


class LiveSession:
    """One console socket: queue snapshots and the open conversation's new lines.

    Lines go through :class:`~bot.live_socket.SeqSocket`, the same send and catch-up code
    as the chat widget: the open conversation is followed on the engine's live feed (any
    process's appends, through Redis when configured) and, as a safety net, on the hub's
    reading of the event log.
    """

    def __init__(self, websocket: WebSocket, workspace: Workspace, user: ConsoleUser) -> None:
        self.ws = websocket
        self.workspace = workspace
        self.user = user
        self.socket = SeqSocket(websocket)
        self.conversation_id: str | None = None
        self._follower: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self.socket.closed

    async def run(self) -> None:
        """Serve the socket until the page leaves or the session ends."""
        from console.routes.workspace import me_view

        subscription = self.workspace.hub.subscribe(self.user.agent_id)
        agent = self.user.agent_id
        if agent:
            self.workspace.presence.opened(agent)
        pusher = asyncio.create_task(self._push(subscription))
        try:
            await self.socket.send(
                {"type": "me", "me": (await me_view(self.workspace, self.user)).model_dump(mode="json")}
            )
            queue = await self.workspace.queue.build()
            await self.socket.send({"type": "queue", "queue": queue.model_dump(mode="json")})
            while not self.closed:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._on_frame(message.get("text"))
        except WebSocketDisconnect:
            pass
        finally:
            self.socket.closed = True
            self.workspace.hub.unsubscribe(subscription)
            subscription.wake()
            for task in (pusher, self._follower):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if agent:
                self.workspace.presence.closed(agent)

    async def _on_frame(self, text: str | None) -> None:
        try:
            frame = OpenFrame.model_validate(json.loads(text or ""))
        except (ValueError, ValidationError):
            await self.socket.send({"type": "error", "message": 'send {"type": "open", ...} frames'})
            return
        # Followed before the first read (no line falls in between), holding the socket's lock
        # throughout, so no notice catches up from another conversation's cursor meanwhile.
        async with self.socket.lock:
            if frame.conversation_id != self.conversation_id:
                if self._follower is not None:
                    self._follower.cancel()
                    self._follower = None
                self.conversation_id = frame.conversation_id
                if frame.conversation_id is not None:
                    subscribed = asyncio.Event()
                    watch = self.workspace.engine.subscribe(frame.conversation_id)
                    follower = self.socket.follow(watch, self.catch_up, subscribed)
                    self._follower = asyncio.create_task(follower)
                    await subscribed.wait()
            if self.conversation_id is not None:
                read, frames = self._lines(self.conversation_id, announce=frame.last_seq is None)
                await self.socket.catch_up_locked(read, frames, after=frame.last_seq, reset=True)

    async def catch_up(self) -> None:
        """Send the open conversation's lines the page does not have yet."""
        conversation_id = self.conversation_id
        if conversation_id is None or self.closed:
            return
        await self.socket.catch_up(*self._lines(conversation_id, announce=False))

    def _lines(
        self, conversation_id: str, *, announce: bool
    ) -> tuple[
        Callable[[int | None], Awaitable[list[WorkspaceLine]]],
        Callable[[list[WorkspaceLine]], list[dict[str, object]]],
    ]:
        """How to read the conversation's lines and frame them; ``announce``: a frame even
        with no line (a page opening a conversation learns it is current)."""

        async def read(after_seq: int | None) -> list[WorkspaceLine]:
            return await self.workspace.views.lines(conversation_id, after_seq)

        def frames(fresh: list[WorkspaceLine]) -> list[dict[str, object]]:
            if not fresh and not announce:
                return []
            lines = [line.model_dump(mode="json") for line in fresh]
            return [{"type": "lines", "conversation_id": conversation_id, "lines": lines}]

        return read, frames

    async def _push(self, subscription: Subscription) -> None:
        while not self.closed:
            queue, conversations, tick = await subscription.next()
            if self.closed:
                return
            if tick and not await self._session_alive():
                await self._close(WS_SESSION_ENDED)
                return
            if queue is not None:
                await self.socket.send({"type": "queue", "queue": queue.model_dump(mode="json")})
            for mention in subscription.take_mentions():  # a note @mentioned this agent
                await self.socket.send({"type": "mention", "mention": mention.model_dump(mode="json")})
            if tick or (self.conversation_id is not None and self.conversation_id in conversations):
                await self.catch_up()

    async def _session_alive(self) -> bool:
        platform = await self.ws.app.state.console.ready()
        session = await platform.sessions.resolve(self.ws.cookies.get(SESSION_COOKIE))
        return session is not None and session.user.role in WORKSPACE_ROLES

    async def _close(self, code: int) -> None:
        self.socket.closed = True
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self.ws.close(code=code)


def live_router() -> APIRouter:
    """``WS /api/workspace/ws``."""
    routes = APIRouter()

    @routes.websocket("/api/workspace/ws")
    async def live(websocket: WebSocket) -> None:
        user = await websocket_user(websocket, *WORKSPACE_ROLES)
        if user is None:
            return
        try:
            workspace = workspace_for(websocket)
        except WorkspaceError as exc:
            await websocket.accept()
            await websocket.send_text(json.dumps({"type": "error", "message": str(exc)}))
            await websocket.close(code=WS_UNAVAILABLE)
            return
        await websocket.accept()
        await LiveSession(websocket, workspace, user).run()

    return routes
