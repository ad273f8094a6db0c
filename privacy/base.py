"""The seam every store holding personal data implements: :class:`Eraser`.

A store that keeps anything about a person (conversations, outbox rows, profiles,
knowledge gaps, files, audit values, read models) registers one eraser. Export, erase
and retention are then one loop over the registered erasers (:mod:`privacy.service`),
the way python-telegram-bot's ``BasePersistence.drop_user_data`` lets one call reach
every store. This module imports nothing above the standard library and SQLAlchemy, so
any package may implement the seam without import cycles.

Every eraser works on the connection of one :class:`Run`: an erase is a single database
transaction (all or nothing across every table), and a dry run is the same work rolled
back. Files cannot take part in a transaction, so erasers that delete files name them with
:meth:`Run.delete_files`: a retention run unlinks them after its commit, an erase records
them with its request and unlinks them as a part of its own (privacy/erasures.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from privacy.config import RetentionConfig
    from privacy.subject import DataSubject

#: what replaces a personal value that must stay as a record (audit entries)
ERASED = "[erased]"


@dataclass
class Run:
    """One export, erase or retention pass: its connection, clock and the files to delete."""

    conn: AsyncConnection
    now: datetime
    dry_run: bool = False
    files: list[Path] = field(default_factory=list)

    def delete_files(self, paths: Sequence[Path]) -> None:
        """Name files to delete once the transaction committed; never on a dry run or a rollback."""
        self.files.extend(paths)

    def take_files(self) -> list[Path]:
        """The files named so far, handed over (an erase records them with its request)."""
        taken, self.files = self.files, []
        return taken

    def finish(self) -> int:
        """Unlink the named files (the service calls this after COMMIT); how many were removed."""
        files = self.take_files()
        return 0 if self.dry_run else unlink_files(files)


def unlink_files(paths: Sequence[Path]) -> int:
    """Delete ``paths`` and the ``.json`` beside each; how many existed. Idempotent."""
    removed = 0
    for path in paths:
        path.with_name(f"{path.name}.json").unlink(missing_ok=True)
        if path.exists():
            path.unlink()
            removed += 1
    return removed


@runtime_checkable
class Eraser(Protocol):
    """A store's part of the personal-data map: what it holds about a person, how to
    hand it over, delete it, and forget it when its time is up."""

    #: the data kind, the key of its part of an export and of erase/retention reports
    name: str

    async def export(self, subject: DataSubject, run: Run) -> Any:
        """Everything this store holds about ``subject``, as JSON-ready values."""
        ...

    async def erase(self, subject: DataSubject, run: Run) -> int:
        """Delete (or, where a record must stay, scrub) ``subject``'s data; how many rows or
        files were removed or scrubbed."""
        ...

    async def expire(self, retention: RetentionConfig, run: Run) -> int:
        """Delete what is past its time to live under ``retention`` (kind-specific TTLs;
        conversations past theirs arrive through :meth:`erase`); how many were removed."""
        ...
