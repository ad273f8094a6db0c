"""The seams the engine calls and the layers above it implement (the composition root wires them).

``bot`` imports none of the packages above it (``actions``, ``knowledge``, ``handoff``,
``console``, ``privacy``, ``concierge``; tests/test_import_graph.py keeps it so). What the
engine needs from them it names here, as Protocols, and :mod:`concierge.compose` passes the
implementations to :class:`bot.engine.Engine`'s constructor, the way Rasa's core names
``InputChannel`` and a connector implements it:

- :class:`TurnHooks`: what runs around the bot's own turn (``handoff.runtime.HandoffRuntime``
  implements it: client recognition, triggers, silence while a person owns the conversation);
- :class:`ActionSource`: where the engine's actions come from (``actions.registry.ActionRegistry``);
- :class:`AsyncCloseable`: anything else the engine closes with itself (the knowledge base).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.domain import Domain
    from bot.events import Event
    from bot.models import ComponentHealth, InboundMessage
    from bot.nlg import ResponseRenderer
    from bot.tracker import Tracker

Apply = Callable[[list["Event"]], None]
"""Adds events to the turn: applied to the tracker and appended with the turn's own."""


class TurnHook(Protocol):
    """One turn's hooks, called by the engine in this order under the conversation's lock."""

    async def recognise(self) -> None:
        """Before the client's message is applied: who is writing (may apply slot events)."""
        ...

    async def while_paused(self) -> None:
        """The message reached a conversation a person owns; the bot stays silent."""
        ...

    async def before_bot(self) -> bool:
        """After slot extraction, before the policies: True when the turn goes straight to a
        person (the engine then ends it without a bot reply)."""
        ...

    async def after_bot(self) -> None:
        """After the bot's actions ran (a handoff action, repeated fallbacks)."""
        ...


class TurnHooks(Protocol):
    """What wraps every turn of the engine (human handoff, in this project)."""

    def turn(self, message: InboundMessage, tracker: Tracker, apply: Apply) -> TurnHook:
        """The hooks for one turn of ``message`` over ``tracker``."""
        ...

    async def health(self) -> ComponentHealth:
        """The hooks' state, reported by ``GET /health``."""
        ...

    async def close(self) -> None:
        """Release what the hooks hold (shared presence connections)."""
        ...


class RunnableAction(Protocol):
    """An action as the engine runs it (``actions.base.Action`` is one)."""

    name: str

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """Run against the conversation; raise ``bot.errors.ActionRejected`` to refuse."""
        ...


class ActionSource(Protocol):
    """The actions by name, and the connections (an action server's client) they hold."""

    def get(self, name: str) -> RunnableAction:
        """The action called ``name``; raises :class:`bot.errors.ActionNotFound`."""
        ...

    async def aclose(self) -> None:
        """Close the action server client, when there is one."""
        ...


class AsyncCloseable(Protocol):
    """Something the engine releases when it closes."""

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...
