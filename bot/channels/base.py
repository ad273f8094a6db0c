"""The channel seam: what every provider adapter implements, and what it may call.

An adapter owns one provider's wire format. It turns the provider's requests into
:class:`~bot.models.InboundMessage` objects, hands them to a :class:`MessageHandler`
(the engine), and renders the engine's :class:`~bot.models.OutboundMessage` replies
back into the provider's format. Nothing provider-specific travels past the adapter.

Three kinds of adapter
----------------------
- :class:`ChannelAdapter`: request/response or socket channels (``rest``, ``widget``).
- :class:`PushChannel`: may message a client at any time. Lines stored in the event log
  (the bot's replies, an agent's reply) become outbox rows in the same transaction
  (:mod:`bot.channels.outbox_projection`; :meth:`PushChannel.outbox_rows` says how lines
  become rows). ``send(message)`` (a message with no line in the log) runs
  :meth:`PushChannel.prepare` (e.g. the 24-hour window: rewrite as a template, or raise
  :class:`~bot.errors.OutsideWindow` so the agent is told) and enqueues a durable row in the
  outbox (:mod:`bot.channels.outbox`); the outbox worker calls ``deliver(message)``, ONE
  delivery attempt returning the provider's message id or raising
  :class:`~bot.errors.RateLimited` (``retry_after``), :class:`~bot.errors.ChannelError`
  (``retryable``) or :class:`~bot.errors.OutsideWindow`. Retries, backoff, rate limits
  (``rate_limit``) and receipts are the outbox's job, not the adapter's.
- :class:`bot.channels.webhook.WebhookChannel` (a PushChannel): the shared webhook flow. A
  provider module implements ``verify(request, body)`` (raise
  :class:`~bot.errors.Unauthorized`), ``parse(request, body) -> WebhookBatch`` (messages,
  receipts, unsupported kinds, echoes skipped; raise :class:`~bot.errors.BadPayload`) and
  ``deliver``; optionally ``extra_routes`` (Meta's GET handshake: :mod:`bot.channels.meta`),
  ``acknowledgement()`` (Twilio wants TwiML), ``resolve(message, handler)`` (a message as it
  should be stored; ``numbered_choices = True`` maps a typed number back to a button's
  payload) and ``split(message)`` (one outbox row per provider call, e.g. a photo then a
  long text), with ``WebhookSection`` as the base of its config (``unsupported_reply``).
  The flow at ``POST /webhooks/<name>/webhook``: verify first (a forged or unsigned request
  gets 403, is logged and changes nothing) ->
  parse -> drop echoes of our own sends -> ``handler.receive(msg)`` (durable, deduplicated by
  the provider's id) -> receipts -> polite reply for unsupported kinds -> 200 -> process in
  the background, in order per conversation; the turn's replies reach the outbox with its
  events (keys ``<conversation>:seq<n>``: a turn re-run after a crash never sends twice).

Configuration comes from the project's ``credentials.yml`` (:mod:`bot.channels.credentials`):
one top-level key per channel, ``${ENV}`` substitution, and a pydantic ``config_model`` per
adapter class (subclass :class:`ChannelSection`, which carries ``enabled`` and
``rate_limit``). ``ChannelAdapter.from_credentials(section, settings)`` builds the adapter.
A new provider = one module + one line in :mod:`bot.channels.registry` + one test file +
fixtures. Health: :class:`ChannelStats` (last inbound, last successful send, errors, refused
requests) plus the outbox backlog, on ``GET /health`` as ``channel:<name>``.

Who is writing: an adapter sets ``InboundMessage.identities`` (``VerifiedIdentity``) only for
what it proved (a signed provider sender id, a signed site token, the mailbox's From), only
after verifying the request; whatever the sender merely claims (a display name, contact
details in a REST body) goes in ``InboundMessage.hints`` and never recognises anyone
(docs/security.md, "Identity"). The flow copies attachments into ``metadata["attachments"]``
(JSON) so the event log keeps them. Helpers in :mod:`bot.channels.webhook`:
``numbered_options`` / ``resolve_numbered_choice`` (buttons as "1. ..." lines and the typed
number back to the payload), ``split_text`` (a provider's length limit), ``json_body``;
:mod:`bot.channels.service_window` holds the 24-hour window and its templates. An adapter
that can fetch the files clients send implements ``fetch_media(attachment)``
(:mod:`bot.channels.media`); the console streams them at ``/api/media/...``.
The console reads a conversation's sends and failures with
``app.state.outbox.rows(conversation_id=..., status=...)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.addresses import is_opaque, split_conversation_id
from bot.channels.limits import DEFAULT_GUARD, ChatGuard
from bot.channels.outbox import RateLimit
from bot.errors import ChannelError, ConfigError
from bot.live import Subscription
from bot.models import ComponentHealth, InboundMessage, OutboundMessage, TranscriptEntry

if TYPE_CHECKING:
    from bot.channels.addresses import AddressBook
    from bot.channels.outbox import Outbox
    from bot.settings import Settings

__all__ = [
    "ChannelAdapter",
    "ChannelSection",
    "ChannelStats",
    "MessageHandler",
    "PushChannel",
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

    def subscribe(
        self, conversation_id: str, on_batch: Callable[[list[TranscriptEntry]], object] | None = None
    ) -> Subscription:
        """Batches of a conversation's new lines as they are stored, on any process (agent
        replies included; an empty batch: catch up from the log), iterated or handed to
        ``on_batch`` (no queue, no task per watcher); see :mod:`bot.live`."""
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
    #: inbound bounds (text length, sender rate, webhook freshness): set by mount_channels
    guard: ChatGuard = DEFAULT_GUARD
    #: a FastAPI dependency admitting signed-in staff only (the console's workspace roles),
    #: given by the app's wiring so channels need not import the console; routes for staff
    #: (email attachments) are mounted only when there is one
    staff: Callable[..., Awaitable[object]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Self:
        """Build the adapter; providers with credentials read them from ``settings``."""
        return cls()

    @classmethod
    def from_credentials(cls, section: Mapping[str, Any] | None, settings: Settings | None) -> Self:
        """Build the adapter from its ``credentials.yml`` section (already ``${ENV}``-substituted).

        Adapters without options ignore the section; push channels validate it with their
        ``config_model``.
        """
        return cls.from_settings(settings)

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


class ChannelSection(BaseModel):
    """Options every channel section of ``credentials.yml`` may carry; providers subclass it.

    ``enabled: false`` keeps a configured channel unmounted; ``rate_limit`` feeds the
    outbox's token bucket for the channel.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rate_limit: RateLimit = Field(default_factory=RateLimit)


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = max(0, int((now - at).total_seconds()))
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}min ago"


@dataclass
class ChannelStats:
    """What a channel has lived through since start: for ``/health`` and the console."""

    last_inbound_at: datetime | None = None
    last_sent_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    errors: int = 0
    refused: int = 0

    def inbound(self, at: datetime | None = None) -> None:
        """A client message was accepted."""
        self.last_inbound_at = at or datetime.now(UTC)

    def sent(self, at: datetime | None = None) -> None:
        """A message reached the provider."""
        self.last_sent_at = at or datetime.now(UTC)

    def error(self, reason: str, at: datetime | None = None) -> None:
        """A send attempt failed (``reason`` names the error, never the message)."""
        self.errors += 1
        self.last_error = reason
        self.last_error_at = at or datetime.now(UTC)

    def component(self, backlog: Mapping[str, int] | None = None) -> ComponentHealth:
        """``degraded`` while the latest send attempt failed or messages gave up; else ``ok``."""
        now = datetime.now(UTC)
        backlog = backlog or {}
        queued = backlog.get("queued", 0) + backlog.get("sending", 0)
        failed = backlog.get("failed", 0)
        failing = self.last_error_at is not None and (
            self.last_sent_at is None or self.last_error_at > self.last_sent_at
        )
        detail = (
            f"last inbound {_ago(self.last_inbound_at, now)}, last send {_ago(self.last_sent_at, now)}, "
            f"{self.errors} send error{'' if self.errors == 1 else 's'}, {queued} waiting, {failed} failed"
        )
        if self.refused:
            detail += f", {self.refused} refused request{'' if self.refused == 1 else 's'}"
        if failing and self.last_error:
            detail += f"; last error: {self.last_error[:200]}"
        return ComponentHealth(status="degraded" if failing else "ok", detail=detail)


class PushChannel(ChannelAdapter):
    """A channel that can message a client at any time; every send goes through the outbox.

    Subclasses implement :meth:`deliver` (one attempt) and may override :meth:`prepare`
    (checks or rewrites before a message is queued, e.g. the 24-hour window).
    """

    config_model: ClassVar[type[ChannelSection]] = ChannelSection

    def __init__(self, config: ChannelSection | None = None) -> None:
        self.config = config or self.config_model()
        self.rate_limit: RateLimit = self.config.rate_limit
        self.stats = ChannelStats()
        self.outbox: Outbox | None = None
        self.addresses: AddressBook | None = None
        self.handler: MessageHandler | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Self:
        """Push channels need credentials: build them with :meth:`from_credentials`."""
        raise ConfigError(f"channel {cls.name!r} needs a {cls.name}: section in credentials.yml")

    @classmethod
    def from_credentials(cls, section: Mapping[str, Any] | None, settings: Settings | None) -> Self:
        """Validate ``section`` with ``config_model``; :class:`ConfigError` says what is wrong."""
        try:
            config = cls.config_model.model_validate(dict(section or {}))
        except ValidationError as exc:
            raise ConfigError(
                f"credentials.yml, section {cls.name}: {describe_validation_error(exc)}"
            ) from None
        return cls(config)

    def attach(self, outbox: Outbox) -> None:
        """Send through ``outbox`` (the app's lifespan calls this once the database is up)."""
        self.outbox = outbox
        self.addresses = outbox.addresses
        outbox.register(self)

    async def token_of(self, address: str) -> str:
        """The opaque sender id of a client's channel ``address`` (a phone number, an e-mail
        address, a chat id), its address row kept for the outbox (:mod:`bot.channels.addresses`).

        Conversation ids are ``<channel>:<token>``: nothing downstream of the adapter sees the
        address. Raises :class:`ChannelError` before the outbox (and so the database) is up.
        """
        if self.addresses is None:
            raise ChannelError(f"channel {self.name}: the outbox is not running yet")
        return split_conversation_id(await self.addresses.remember(self.name, address))[1]

    async def conversation_of(self, recipient_id: str) -> str:
        """The conversation of a message to ``recipient_id``: ``<name>:<token>`` for a token,
        and for an address on file (``deliver`` gets the address from the outbox); else
        ``<name>:<recipient_id>``, a conversation stored before opaque ids."""
        if self.addresses is None or is_opaque(recipient_id):
            return f"{self.name}:{recipient_id}"
        derived = await self.addresses.conversation_id(self.name, recipient_id)
        return derived if await self.addresses.address(derived) is not None else f"{self.name}:{recipient_id}"

    async def send(self, message: OutboundMessage) -> None:
        """Queue ``message`` durably (after :meth:`prepare`); the outbox delivers it.

        Raises :class:`~bot.errors.OutsideWindow` (from ``prepare``) when it cannot go out
        at all, so the caller (an agent's reply) can say so; nothing is queued then.
        """
        await self.enqueue(await self.prepare(message))

    async def enqueue(self, message: OutboundMessage, *, key: str | None = None) -> int:
        """Queue ``message`` under idempotency ``key``; returns the (last) outbox row id.

        A message :meth:`split` cuts into pieces is queued as one row per piece (keys
        ``<key>:part<n>``), so each is retried on its own and a failure after the first piece
        went out never sends that piece twice.
        """
        if self.outbox is None:
            raise ChannelError(f"channel {self.name}: the outbox is not running yet")
        pieces = self.split(message)
        if len(pieces) == 1:
            return await self.outbox.enqueue(pieces[0], key=key)
        row = 0
        for index, piece in enumerate(pieces):
            row = await self.outbox.enqueue(piece, key=f"{key}:part{index}" if key else None)
        return row

    def split(self, message: OutboundMessage) -> list[OutboundMessage]:
        """The pieces ``message`` goes out as, one provider call each (by default: itself)."""
        return [message]

    def outbox_rows(
        self, replies: Sequence[tuple[str, OutboundMessage]]
    ) -> list[tuple[str, OutboundMessage]]:
        """The outbox rows ``(key, message)`` of lines stored in one append (a turn's replies,
        an agent's reply), in order; by default each line's :meth:`split` pieces, keyed
        ``<key>:part<n>`` when there are several. Written in the append's transaction by
        :class:`~bot.channels.outbox_projection.OutboxProjector`.
        """
        rows: list[tuple[str, OutboundMessage]] = []
        for key, reply in replies:
            pieces = self.split(reply)
            if len(pieces) == 1:
                rows.append((key, pieces[0]))
            else:
                rows.extend((f"{key}:part{index}", piece) for index, piece in enumerate(pieces))
        return rows

    async def prepare(self, message: OutboundMessage) -> OutboundMessage:
        """The message as it should be queued; providers with a service window override this."""
        return message

    @abstractmethod
    async def deliver(self, message: OutboundMessage) -> str | None:
        """One delivery attempt; the provider's message id (see the module docstring for errors)."""

    def delivery_succeeded(self, at: datetime) -> None:
        """Called by the outbox after a successful attempt."""
        self.stats.sent(at)

    def delivery_failed(self, error: str, at: datetime) -> None:
        """Called by the outbox after a failed attempt."""
        self.stats.error(error, at)

    def health(self) -> ComponentHealth:
        """Last inbound, last send, errors and the outbox backlog of this channel."""
        backlog = self.outbox.backlog.get(self.name) if self.outbox is not None else None
        return self.stats.component(backlog)
