"""``GET /api/media/{channel}/{conversation_id}/{seq}/{index}``: a file a client sent, for the console.

``conversation_id`` is the full id (``whatsapp_cloud:48601234567``), ``seq`` the stored
client message (its transcript line) and ``index`` the attachment's place in that message.
The attachment is looked up in the event log and fetched from the provider by the channel's
adapter with the channel's credentials (:mod:`bot.channels.media`), then streamed through;
the provider's links and tokens never reach the browser.

Agents, managers and admins (the workspace's roles). Answers: the file (raster images
inline, everything else ``Content-Disposition: attachment``; always ``nosniff`` and a
sandboxing CSP, so a client's HTML or SVG never runs on our origin); 404 when there is no
such attachment or the channel cannot fetch it; 502 with a message for the agent when the
provider fails or the file is larger than :data:`~bot.channels.media.MAX_MEDIA_BYTES`;
503 while the bot engine is not running.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse

from bot.channels.media import (
    MAX_MEDIA_BYTES,
    OCTET_STREAM,
    Media,
    MediaNotFound,
    MediaSource,
    MediaTooLarge,
    recorded_attachment,
)
from bot.errors import ChannelError
from bot.models import Attachment
from console.deps import WORKSPACE_ROLES, require_roles
from console.errors import error_response
from console.routes.fields import Seq
from console.running import running_services
from console.security.models import ConsoleUser

log = logging.getLogger(__name__)

MediaUser = Annotated[ConsoleUser, Depends(require_roles(*WORKSPACE_ROLES))]
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # not SVG: it runs script
MEDIA_CSP = "default-src 'none'; sandbox"


def _not_found(what: str) -> Response:
    return error_response(404, "not_found", what)


def content_type(media: Media, attachment: Attachment) -> str:
    """The type to serve: the provider's, else the one recorded with the message, else a guess."""
    given = media.mime_type.strip()
    if given and given.split(";")[0].strip().lower() != OCTET_STREAM:
        return given
    guessed, _ = mimetypes.guess_type(attachment.name or "")
    return attachment.mime_type or guessed or OCTET_STREAM


def disposition(mime_type: str, attachment: Attachment, fallback: str) -> str:
    """``inline`` for raster images, ``attachment`` with a safe file name for everything else."""
    if mime_type.split(";")[0].strip().lower() in INLINE_TYPES:
        return "inline"
    name = (attachment.name or "").replace("\\", "_").replace("/", "_").strip() or fallback
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"%;' else "_" for ch in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def capped(body: AsyncIterator[bytes], provider: str) -> AsyncIterator[bytes]:
    """``body`` as it comes, stopped (the download fails visibly) past :data:`MAX_MEDIA_BYTES`."""
    seen = 0
    try:
        async for chunk in body:
            seen += len(chunk)
            if seen > MAX_MEDIA_BYTES:
                raise MediaTooLarge(provider)
            yield chunk
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()


def router() -> APIRouter:
    """The media route."""
    routes = APIRouter()

    @routes.get("/api/media/{channel}/{conversation_id}/{seq}/{index}")
    async def media(
        channel: Annotated[str, Path(max_length=64)],
        conversation_id: Annotated[str, Path(max_length=255)],
        seq: Seq,
        index: Annotated[int, Path(ge=0, le=1000)],
        request: Request,
        user: MediaUser,
    ) -> Response:
        """Stream attachment ``index`` of the client message at ``seq`` from its provider."""
        adapter = request.app.state.channels.get(channel)
        if not isinstance(adapter, MediaSource) or not conversation_id.startswith(f"{channel}:"):
            return _not_found(f"no files can be fetched for {channel!r} conversations")
        services = running_services(request)
        if services is None:
            return error_response(
                503, "unavailable", "the bot engine is not running yet; try again in a moment"
            )
        attachment = await recorded_attachment(services.engine.store, conversation_id, seq, index)
        if attachment is None or not attachment.url:
            return _not_found("this message has no such file")
        try:
            fetched = await adapter.fetch_media(attachment)
        except MediaNotFound as exc:
            return _not_found(f"this file cannot be fetched: {exc}")
        except ChannelError as exc:
            log.warning("media: %s %s seq %d: %s", channel, user.username, seq, exc)
            code = "media_too_large" if isinstance(exc, MediaTooLarge) else "provider_error"
            return error_response(502, code, f"{channel} could not give us the file: {exc}")
        mime_type = content_type(fetched, attachment)
        headers = {
            "Content-Disposition": disposition(mime_type, attachment, f"{channel}-{seq}-{index}"),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": MEDIA_CSP,
            "Cache-Control": "private, no-store",
        }
        if isinstance(fetched.body, bytes):
            if len(fetched.body) > MAX_MEDIA_BYTES:
                return error_response(502, "media_too_large", str(MediaTooLarge(channel)))
            return Response(fetched.body, media_type=mime_type, headers=headers)
        # no Content-Length: httpx hands over decoded bytes, whose length may differ from the declared one
        return StreamingResponse(capped(fetched.body, channel), media_type=mime_type, headers=headers)

    return routes
