"""One knowledge base across processes: each process follows what is published in the database.

The articles' truth is the database (``kb_articles``, ``kb_article_versions``); each process
has its own index (embedded Chroma, and always its own in-memory BM25 mirror), so an
article published through one process must reach the others' indexes. :class:`IndexSync`
polls a cheap fingerprint of ``kb_articles`` (row count, last change, sum of published
versions: one aggregate over the table) every ``interval`` seconds and, when it moved,
re-syncs the index with the published versions: only changed articles are re-embedded
(:meth:`~knowledge.editor.EditorService.sync_index`), and the process that published sees
nothing to do. An article published on one process answers on all within about
``interval`` plus the time to embed it.

Two processes must not write one embedded Chroma directory (its HNSW files are not
multi-process safe): :func:`claim_embedded_path` gives each process a directory of its own
(``chroma``, ``chroma-2``, ...), held with a POSIX lock for the process's lifetime and
reused by the next process that starts, so a restart re-embeds nothing.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.periodic import Periodic
from knowledge.editor import EditorService
from knowledge.tables import articles

log = logging.getLogger(__name__)

MAX_SLOTS = 64
LOCK_FILE = ".concierge-owner.lock"


def claim_embedded_path(base: Path) -> tuple[Path, IO[bytes]]:
    """The first of ``base``, ``base-2``, ``base-3``, ... no other live process holds.

    Returns the directory and the open lock file, which must stay open while the index is
    used (closing it lets another process take the directory). POSIX record locks are per
    process, so engines built twice in one process share one directory, as they share its
    Chroma client.
    """
    for slot in range(1, MAX_SLOTS + 1):
        path = base if slot == 1 else base.with_name(f"{base.name}-{slot}")
        path.mkdir(parents=True, exist_ok=True)
        handle = open(path / LOCK_FILE, "ab")  # kept open: it is the claim
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if slot > 1:
            log.info("knowledge: %s is in use by another process; this one indexes in %s", base, path)
        return path, handle
    raise RuntimeError(f"more than {MAX_SLOTS} processes share the knowledge index under {base}")


class IndexSync:
    """Keeps this process's index in step with the published articles; see the module docstring."""

    def __init__(self, editor: EditorService, db: AsyncEngine, *, interval: float = 0.5) -> None:
        self.editor = editor
        self.db = db
        self.synced: tuple[object, ...] | None = None
        self.rounds = 0  # re-syncs done (health, tests)
        # the database may be away: the loop keeps trying, the index keeps answering meanwhile
        self._loop = Periodic("knowledge index sync", self.check, interval, logger=log)

    @property
    def interval(self) -> float:
        """Seconds between two looks at the articles (the next round uses a new value)."""
        return self._loop.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._loop.interval = seconds

    async def fingerprint(self) -> tuple[object, ...]:
        """What changes whenever an article is added, edited, published or unpublished."""
        query = select(
            func.count(), func.max(articles.c.updated_at), func.sum(articles.c.published_version)
        ).select_from(articles)
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).one()
        return tuple(row)

    async def mark_current(self) -> None:
        """The index was just synced (start-up): remember the fingerprint it matches."""
        self.synced = await self.fingerprint()

    async def check(self) -> bool:
        """Re-sync when the articles changed since the last sync; True if it re-synced."""
        seen = await self.fingerprint()
        if seen == self.synced:
            return False
        await self.editor.follow_published()
        self.synced = seen
        self.rounds += 1
        return True

    def start(self) -> None:
        """Poll in the background until :meth:`stop`."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop polling."""
        await self._loop.stop()
