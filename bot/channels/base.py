"""The channel seam: what every provider adapter implements, and what it may call.

An adapter owns one provider's wire format. It turns the provider's requests into
:class:`~bot.models.InboundMessage` objects, hands them to a :class:`MessageHandler`
(the engine), and renders the engine's :class:`~bot.models.OutboundMessage` replies
back into the provider's format. Nothing provider-specific travels past the adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar, Protocol, Self

from fastapi import APIRouter
from pydantic import ValidationError

from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "ChannelAdapter",
    "MessageHandler",
    "TranscriptEntry",
    "describe_validation_error",
]


class MessageHandler(Protocol):
    """What a channel needs from the engine (``bot.engine.Engine`` implements it).

    ``receive`` stores a message durably and deduplicates it by ``message_id``, so a
    channel can acknowledge the provider as soon as it returns; ``process`` then runs
    the bot's turn. ``handle`` is both in one call, for request/response channels.
    """

    async def receive(self, message: InboundMessage) -> bool:
        """Store the message; False when its ``message_id`` was seen before."""
        ...

    async def process(self, message: InboundMessage) -> list[OutboundMessage]:
        """Run the bot's turn for a stored message and return its replies."""
        ...

    async def handle(self, message: InboundMessage) -> list[OutboundMessage]:
        """Store, then process; a duplicate delivery returns no replies."""
        ...

    async def history(self, conversation_id: str, after_seq: int | None = None) -> list[TranscriptEntry]:
        """The conversation's visible lines with ``seq`` greater than ``after_seq``, in order."""
        ...

    def subscribe(self, conversation_id: str) -> AsyncIterator[TranscriptEntry]:
        """Live lines of a conversation as they are stored (agent replies included)."""
        ...

    async def health(self) -> dict[str, ComponentHealth]:
        """Each engine component's state, for ``GET /health``."""
        ...


class ChannelAdapter(ABC):
    """One provider: its webhook routes, its outbound pushes and its health.

    Subclasses set ``name``; their router is mounted at ``/webhooks/<name>/`` by
    :func:`bot.channels.registry.mount_channels`.
    """

    name: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Self:
        """Build the adapter; providers with credentials read them from ``settings``."""
        return cls()

    @abstractmethod
    def router(self, handler: MessageHandler) -> APIRouter:
        """The provider's routes, relative to ``/webhooks/<name>``, answering through ``handler``."""

    @abstractmethod
    async def send(self, message: OutboundMessage) -> None:
        """Push a message to the client outside a request (agent replies, outbox)."""

    def health(self) -> ComponentHealth:
        """The adapter's own state (e.g. open connections); ``ok`` unless overridden."""
        return ComponentHealth(status="ok")

    async def close(self) -> None:
        """Release connections and finish in-flight work; called once at shutdown."""
        return None


def describe_validation_error(exc: ValidationError) -> str:
    """A one-line, client-safe summary of what was wrong with a payload.

    Lists each problem as ``field: reason`` and never echoes the submitted values,
    which may hold personal data.
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)
