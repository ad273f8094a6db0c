"""Files a client sent, fetched from their provider for the console.

A webhook channel records each client message's attachments in the event log
(``UserUttered.metadata["attachments"]``, JSON; :func:`bot.channels.webhook.with_attachment_metadata`).
Media arrive as references, not bytes: a Graph media id (WhatsApp Cloud API), a ``MediaUrl``
behind basic auth (Twilio), a ``telegram-file:<file_id>`` (Telegram) or a signed CDN URL
(Messenger, Instagram). An adapter that can turn such a reference into the file implements
:class:`MediaSource` (``async def fetch_media(attachment) -> Media``); the console's media
route (``console/routes/media.py``) finds the attachment with :func:`recorded_attachment`
and streams what the adapter fetched, never more than :data:`MAX_MEDIA_BYTES`.

Errors: :class:`MediaNotFound` when the attachment is not one the channel can fetch (the
console answers 404); :class:`~bot.errors.ChannelError` when the provider fails or refuses,
:class:`MediaTooLarge` above the cap (both 502, with a message for the agent). Credentials go
only to the provider's own hosts (or where the provider's documented flow sends them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import httpx
from pydantic import ValidationError

from bot.errors import ChannelError
from bot.events import UserUttered
from bot.models import Attachment
from bot.redact import conversation_ref

if TYPE_CHECKING:
    from bot.store import EventStore

log = logging.getLogger(__name__)

MAX_MEDIA_BYTES = 25 * 1024 * 1024  # Messenger's own attachment limit; WhatsApp media are smaller
OCTET_STREAM = "application/octet-stream"


class Media(NamedTuple):
    """A fetched file: its bytes (or an async iterator over them) and its MIME type."""

    body: bytes | AsyncIterator[bytes]
    mime_type: str
    size: int | None = None  # the length the provider declared, when it did


class MediaNotFound(LookupError):
    """The attachment is not a file this channel can fetch (no reference, or a foreign one)."""


class MediaTooLarge(ChannelError):
    """The file is larger than the console shows (:data:`MAX_MEDIA_BYTES`)."""

    def __init__(self, provider: str, max_bytes: int = MAX_MEDIA_BYTES) -> None:
        super().__init__(
            f"the file is larger than {max_bytes // (1024 * 1024)} MB, the most the console shows; "
            f"open it in {provider} itself",
            retryable=False,
        )


@runtime_checkable
class MediaSource(Protocol):
    """A channel that can fetch the files its clients send."""

    async def fetch_media(self, attachment: Attachment) -> Media:
        """The file behind ``attachment``; :class:`MediaNotFound` or a ``ChannelError`` otherwise."""
        ...


async def recorded_attachment(
    store: EventStore, conversation_id: str, seq: int, index: int
) -> Attachment | None:
    """Attachment ``index`` of the client message stored at ``seq``, or None if there is none."""
    if seq < 1 or index < 0:
        return None
    stored = await store.load(conversation_id, after_seq=seq - 1)
    if not stored or stored[0].seq != seq or not isinstance(stored[0].event, UserUttered):
        return None
    listed = stored[0].event.metadata.get("attachments")
    try:
        items = json.loads(listed) if isinstance(listed, str) else []
        if not isinstance(items, list) or index >= len(items):
            return None
        return Attachment.model_validate(items[index])
    except (ValueError, ValidationError):
        log.warning(
            "media: unreadable attachments recorded at %s seq %d", conversation_ref(conversation_id), seq
        )
        return None


async def download(
    http: httpx.AsyncClient,
    url: str,
    provider: str,
    *,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    max_bytes: int = MAX_MEDIA_BYTES,
    seconds: float = 30.0,
) -> Media:
    """Open a download of ``url`` and return it as a stream (closed once read to the end).

    ``seconds`` bounds each network wait. Redirects are followed (httpx drops
    ``Authorization`` when one leaves the host). A provider error is a
    :class:`ChannelError` naming ``provider`` and the HTTP status; a declared length above
    ``max_bytes`` is :class:`MediaTooLarge` before anything is read.
    """
    try:
        request = http.build_request("GET", url, headers=headers, timeout=seconds)
        response = await http.send(request, auth=auth, stream=True, follow_redirects=True)
    except httpx.TimeoutException:
        raise ChannelError(f"{provider} did not send the file in time") from None
    except httpx.HTTPError as exc:
        raise ChannelError(f"{provider} could not be reached for the file ({type(exc).__name__})") from None
    if response.status_code >= 400:
        await response.aclose()
        raise ChannelError(
            f"{provider} refused to send the file (HTTP {response.status_code})", retryable=False
        )
    try:
        declared = int(response.headers.get("content-length", ""))
    except ValueError:
        declared = None
    if declared is not None and declared > max_bytes:
        await response.aclose()
        raise MediaTooLarge(provider, max_bytes)
    mime_type = response.headers.get("content-type") or OCTET_STREAM
    return Media(_read(response), mime_type, declared)


async def _read(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
