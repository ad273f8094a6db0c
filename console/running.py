"""The running bot's services as the console sees them: one typed object, no ``getattr`` chains.

The composition root (:mod:`concierge.compose`) builds a ``Services`` object that satisfies
:class:`AppServices`; the app holds it on its :class:`~console.app.EngineSlot` (built by the
lifespan, or given by a test or the CLI), and routes receive it through
``console.deps.ServicesDep``. The console never imports the composition root: it names what
it reads here, and the root provides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from bot.engine import Engine
    from handoff.runtime import HandoffRuntime
    from knowledge.settings import KnowledgeServices


class AppServices(Protocol):
    """What the console reads of the running bot (``concierge.compose.Services`` is one)."""

    @property
    def engine(self) -> Engine:
        """The engine: messages, history, live lines, the event store."""
        ...

    @property
    def handoff(self) -> HandoffRuntime | None:
        """Clients, agents, the queue and handoff moves; None without handoff data."""
        ...

    @property
    def knowledge(self) -> KnowledgeServices | None:
        """The knowledge base (search, editor, gaps, LLM); None without articles."""
        ...


@dataclass(frozen=True)
class EngineOnly:
    """The services of an app given only an engine (chat channel tests): no handoff, no
    knowledge base for the console."""

    engine: Engine
    handoff: HandoffRuntime | None = None
    knowledge: KnowledgeServices | None = None


def running_services(connection: HTTPConnection) -> AppServices | None:
    """The app's services, None while the bot is starting (or never started)."""
    services: AppServices | None = connection.app.state.handler.services
    return services
