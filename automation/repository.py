"""Where the rule set in force lives: ``automation.yml`` until a manager saves a version in
the console, then the newest row of ``automation_rule_versions`` (every process reads it,
so a save reaches every runner at its next round). Saves are validated first, numbered
(the version is the primary key: of two saves at once, one gets the number and the other
is told to reload) and audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from automation.rules import RuleSet, RulesInvalid, parse_rules
from automation.tables import automation_rule_versions
from bot.errors import ConciergeError

FILE_NAME = "automation.yml"


class AuditWriter(Protocol):
    """The console's audit log (``console.audit.AuditLog``), as automation uses it."""

    async def record(
        self, actor: Any, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None: ...

    async def write(
        self,
        conn: AsyncConnection,
        actor: Any,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> None: ...


class VersionConflict(ConciergeError):
    """Someone saved a version since the editor loaded ``base``; reload and save again."""


class RulesVersion(BaseModel):
    """One saved rule set (version 0 is the file)."""

    version: int
    author: str
    comment: str | None = None
    created_at: dt.datetime | None = None
    source: str


class RulesRepository:
    """The rule set in force and its history."""

    def __init__(self, engine: AsyncEngine, file: Path) -> None:
        self.engine = engine
        self.file = file
        self._cached: tuple[int, RuleSet] | None = None

    def _file_version(self) -> RulesVersion:
        source = self.file.read_text(encoding="utf-8") if self.file.is_file() else "rules: []\n"
        return RulesVersion(version=0, author="file", comment=str(self.file.name), source=source)

    async def latest_number(self) -> int:
        """The newest saved version's number (0: none saved, the file is in force)."""
        async with self.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.max(automation_rule_versions.c.version)))).scalar() or 0
            )

    async def current(self) -> RulesVersion:
        """The rule set in force, as text with its version."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(automation_rule_versions)
                    .order_by(automation_rule_versions.c.version.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return self._file_version()
        return RulesVersion(
            version=row.version,
            author=row.author,
            comment=row.comment,
            created_at=row.created_at,
            source=row.source,
        )

    async def rules(self) -> tuple[int, RuleSet]:
        """The rule set in force, parsed (re-parsed only when a new version was saved)."""
        number = await self.latest_number()
        if self._cached is not None and self._cached[0] == number:
            return self._cached
        version = await self.current()
        parsed = parse_rules(version.source, f"{FILE_NAME} v{version.version}")
        self._cached = (version.version, parsed)
        return self._cached

    async def versions(self, limit: int = 50) -> list[RulesVersion]:
        """Saved versions, newest first (the file last, as version 0)."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(automation_rule_versions)
                    .order_by(automation_rule_versions.c.version.desc())
                    .limit(limit)
                )
            ).all()
        saved = [
            RulesVersion(
                version=r.version,
                author=r.author,
                comment=r.comment,
                created_at=r.created_at,
                source=r.source,
            )
            for r in rows
        ]
        return [*saved, self._file_version()]

    async def save(
        self,
        source: str,
        *,
        author: Any,
        author_name: str,
        base: int,
        comment: str | None,
        audit: AuditWriter,
    ) -> RulesVersion:
        """Validate ``source`` and store it as version ``base + 1`` with its audit entry, in one
        transaction. :class:`RulesInvalid` (nothing stored) or :class:`VersionConflict`."""
        parsed: RuleSet = parse_rules(source, f"{FILE_NAME} (edit)")
        number = base + 1
        now = dt.datetime.now(dt.UTC)
        try:
            async with self.engine.begin() as conn:
                latest = (
                    await conn.execute(select(func.max(automation_rule_versions.c.version)))
                ).scalar() or 0
                if latest != base:
                    raise VersionConflict(
                        f"version {latest} was saved since you loaded version {base}; reload"
                    )
                await conn.execute(
                    automation_rule_versions.insert().values(
                        version=number,
                        source=source,
                        author=author_name[:64],
                        comment=comment,
                        created_at=now,
                    )
                )
                await audit.write(
                    conn,
                    author,
                    "automation.rules.save",
                    f"automation:v{number}",
                    {"version": number, "rules": [r.id for r in parsed.rules], "comment": comment},
                )
        except IntegrityError:
            raise VersionConflict(f"another version {number} was saved at the same time; reload") from None
        return RulesVersion(
            version=number, author=author_name, comment=comment, created_at=now, source=source
        )


__all__ = ["AuditWriter", "RulesInvalid", "RulesRepository", "RulesVersion", "VersionConflict"]
