"""Files clients sent, stored on disk: the e-mail channel's attachments (and any channel
that stores files the same way).

Files are content-addressed (``<dir>/<sha256[:2]>/<sha256>`` with a ``.json`` beside it,
see :mod:`bot.channels.email.files`) and linked from messages by their digest, so a file
belongs to whoever's messages name it. Erase finds the digests named in the subject's
events and inbound journal, and deletes each file no other conversation names (the same
file mailed by two people stays for the other), after the transaction commits (an erase
records the paths with its request first, so a crash before the unlink is resumed). Retention
deletes files no stored message names any more (their conversations expired or were
erased) once they are a day old (a file is written just before its message is stored).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, select, true

from bot.store.tables import events, inbound_messages
from privacy.base import Run
from privacy.config import RetentionConfig
from privacy.erasers.common import chunked
from privacy.subject import DataSubject

_DIGEST = re.compile(r"[0-9a-f]{64}")
#: an unreferenced file younger than this may belong to a message being stored right now
ORPHAN_GRACE = timedelta(days=1)
#: what marks a stored message that names a stored file (the route's path)
MARK = "/attachments/"


class AttachmentEraser:
    """Attachment files under the configured directories."""

    name = "attachments"

    def __init__(self, directories: Sequence[Path]) -> None:
        self.directories = [Path(d) for d in directories]

    def _files(self, digest: str) -> list[Path]:
        found: list[Path] = []
        for directory in self.directories:
            for candidate in (directory / digest[:2] / digest, *directory.glob(f"*/{digest[:2]}/{digest}")):
                if candidate.is_file() and candidate not in found:
                    found.append(candidate)
        return found

    def _all_files(self) -> Iterable[tuple[str, Path]]:
        for directory in self.directories:
            if directory.is_dir():
                for path in directory.rglob("*"):
                    if path.is_file() and _DIGEST.fullmatch(path.name):
                        yield path.name, path

    async def _digests(self, run: Run, conversation_ids: Iterable[str], *, inside: bool) -> set[str]:
        """Digests named by messages of ``conversation_ids`` (``inside``), or of every other
        conversation (not ``inside``)."""
        found: set[str] = set()
        ids = sorted(conversation_ids)
        for table, column in ((events, events.c.data), (inbound_messages, inbound_messages.c.payload)):
            text = cast(column, Text)
            batches: list[ColumnElement[bool]]
            if inside:
                batches = [table.c.conversation_id.in_(chunk) for chunk in chunked(ids)]
            elif ids:
                batches = [and_(*(table.c.conversation_id.not_in(chunk) for chunk in chunked(ids)))]
            else:  # every conversation
                batches = [true()]
            for condition in batches:
                rows = await run.conn.execute(select(text).where(condition, text.contains(MARK)))
                for (raw,) in rows:
                    found |= set(_DIGEST.findall(raw or ""))
        return found

    async def export(self, subject: DataSubject, run: Run) -> list[dict[str, Any]]:
        """Each of the subject's stored files: digest, name, type, size and content (base64)."""
        digests = sorted(await self._digests(run, subject.conversation_ids, inside=True))
        return await asyncio.to_thread(self._read_all, digests)

    def _read_all(self, digests: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for digest in digests:
            for path in self._files(digest)[:1]:
                meta = path.with_name(f"{digest}.json")
                info = json.loads(meta.read_text()) if meta.is_file() else {}
                content = path.read_bytes()
                out.append(
                    {
                        "digest": digest,
                        "name": info.get("name"),
                        "mime_type": info.get("mime_type"),
                        "size": len(content),
                        "content_base64": base64.b64encode(content).decode("ascii"),
                    }
                )
        return out

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Name the subject's files no other conversation names for deletion after commit;
        returns how many files that is."""
        if not subject.conversation_ids or not self.directories:
            return 0
        mine = await self._digests(run, subject.conversation_ids, inside=True)
        if not mine:
            return 0
        shared = await self._digests(run, subject.conversation_ids, inside=False)
        paths = await asyncio.to_thread(
            lambda: [path for digest in sorted(mine - shared) for path in self._files(digest)]
        )
        run.delete_files(paths)
        return len(paths)

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Name files no stored message names (older than a day) for deletion after commit."""
        if not self.directories:
            return 0
        stored = await asyncio.to_thread(lambda: list(self._all_files()))
        if not stored:
            return 0
        named = await self._digests(run, (), inside=False)
        old = (run.now - ORPHAN_GRACE).timestamp()
        paths = await asyncio.to_thread(
            lambda: [path for digest, path in stored if digest not in named and path.stat().st_mtime < old]
        )
        run.delete_files(paths)
        return len(paths)
