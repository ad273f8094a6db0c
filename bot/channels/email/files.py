"""Attachment files: stored under the state dir, content-addressed, served to signed-in agents.

A client's attachment is written once to ``<dir>/<sha256[:2]>/<sha256>`` (the same file
mailed twice is stored once) with a small ``.json`` beside it (first name and MIME type).
The message carries an :class:`~bot.models.Attachment` whose ``url`` is the console-side
route ``/webhooks/email/attachments/<sha256>``; that route answers only a signed-in
console user with a workspace role (agent, manager, admin).

Serving is defensive, because the bytes come from strangers: raster images are shown
inline with their type; everything else is a download (``application/octet-stream``,
``Content-Disposition: attachment``); ``nosniff`` and a ``sandbox`` CSP always.
Files larger than ``max_bytes`` are not stored: the message says so in the attachment's
name and the metadata is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from pathlib import Path

from pydantic import BaseModel

from bot.channels.email.parse import EmailFile
from bot.models import Attachment

__all__ = ["AttachmentFiles", "StoredFile"]

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


class StoredFile(BaseModel):
    """A stored attachment, as the serving route needs it."""

    path: Path
    name: str
    mime_type: str

    @property
    def inline(self) -> bool:
        """True for raster images, the only kind shown in the browser rather than downloaded."""
        return self.mime_type in INLINE_TYPES


class AttachmentFiles:
    """The attachment directory of the email channel."""

    def __init__(self, directory: Path, *, url_prefix: str, max_bytes: int) -> None:
        self.directory = directory
        self.url_prefix = url_prefix.rstrip("/")
        self.max_bytes = max_bytes

    async def save(self, file: EmailFile) -> Attachment:
        """Store ``file`` (unless too large) and return the attachment to put on the message."""
        name = _UNSAFE_NAME.sub("_", file.name)[:200] or "attachment"
        if len(file.content) > self.max_bytes:
            return Attachment(
                kind=file.kind,
                name=f"{name} (not stored: over {self.max_bytes} bytes)",
                mime_type=file.mime_type,
            )
        digest = file.sha256
        await asyncio.to_thread(self._write, digest, file.content, name, file.mime_type)
        return Attachment(
            kind=file.kind, name=name, mime_type=file.mime_type, url=f"{self.url_prefix}/{digest}"
        )

    async def open(self, digest: str) -> StoredFile | None:
        """The stored file for ``digest``, or None when there is none (or the id is malformed)."""
        if not _SHA256.match(digest):
            return None
        return await asyncio.to_thread(self._read, digest)

    def _paths(self, digest: str) -> tuple[Path, Path]:
        folder = self.directory / digest[:2]
        return folder / digest, folder / f"{digest}.json"

    def _write(self, digest: str, content: bytes, name: str, mime_type: str) -> None:
        path, meta = self._paths(digest)
        if path.exists() and meta.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, content)
        _atomic_write(meta, json.dumps({"name": name, "mime_type": mime_type}).encode())

    def _read(self, digest: str) -> StoredFile | None:
        path, meta = self._paths(digest)
        if not path.is_file() or not meta.is_file():
            return None
        info = json.loads(meta.read_text())
        return StoredFile(
            path=path, name=str(info.get("name", digest)), mime_type=str(info.get("mime_type", ""))
        )


def _atomic_write(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
