"""The agent workspace: live queue, conversation view, suggestions, canned replies and actions.

:class:`Workspace` is built once per app (lazily, when the engine exists) and holds the read
side (:class:`~console.services.workspace.views.WorkspaceViews`, the queue builder), the
write side (:class:`~console.services.workspace.actions.WorkspaceActions`) and the live hub
the WebSocket uses (:class:`~console.services.workspace.live.WorkspaceHub`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.channels.base import ChannelAdapter
from console.running import AppServices
from console.services.workspace.actions import WorkspaceActions
from console.services.workspace.canned import CannedReplies, load_canned_replies
from console.services.workspace.errors import NotAvailable, WorkspaceError
from console.services.workspace.live import WorkspaceHub
from console.services.workspace.presence import AgentHeartbeats
from console.services.workspace.queue import QueueBuilder
from console.services.workspace.views import WorkspaceViews

CANNED_FILE = Path("data") / "canned_replies.yml"

__all__ = ["CANNED_FILE", "NotAvailable", "Workspace", "WorkspaceError", "load_canned_replies"]


class Workspace:
    """The workspace's object graph for one running bot with handoff (see the module docstring)."""

    def __init__(
        self, services: AppServices, channels: Mapping[str, ChannelAdapter], canned: CannedReplies
    ) -> None:
        engine, runtime = services.engine, services.handoff
        if runtime is None:
            raise NotAvailable(
                "human handoff is not set up for this project (no handoff.yml or data/agents.yml)"
            )
        self.engine = engine
        self.runtime = runtime
        self.queue = QueueBuilder(runtime)
        self.views = WorkspaceViews(engine, runtime, canned, knowledge=services.knowledge)
        self.actions = WorkspaceActions(engine, runtime, channels)
        self.hub = WorkspaceHub(engine.store.engine, self.queue)
        self.presence = AgentHeartbeats(runtime)

    async def close(self) -> None:
        """Stop the live hub's poller and the presence heartbeats."""
        await self.hub.close()
        await self.presence.close()
