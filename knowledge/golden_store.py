"""Where the golden questions live: a table every process reads (``kb_golden_questions``).

The publish gate, ``concierge kb test`` and the console's golden report read the table on
each run, so a question an editor adds through one process is checked by every process at
once, with no file written and no retrain. ``data/knowledge_tests.yml`` is the seed:
:meth:`GoldenStore.seed` imports its questions at start-up and on ``kb test``, keeping the
file's own questions as the file says (added, changed or removed with it) and never touching
a question an editor added in the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.errors import ArticleConflict
from knowledge.golden import GoldenQuestion
from knowledge.tables import golden_questions


def wording(question: str) -> str:
    """What makes two golden questions the same one (with their language)."""
    return " ".join(question.split()).casefold()


class GoldenSet(Protocol):
    """The golden questions: all of them, and one more (refused when already there)."""

    async def all(self) -> list[GoldenQuestion]: ...

    async def add(self, question: GoldenQuestion, author: str) -> None: ...


class GoldenList:
    """Golden questions held in this process only (tests, a knowledge base without a database)."""

    def __init__(self, questions: list[GoldenQuestion] | None = None) -> None:
        self.questions = list(questions or [])

    async def all(self) -> list[GoldenQuestion]:
        return list(self.questions)

    async def add(self, question: GoldenQuestion, author: str) -> None:
        key = (question.language, wording(question.question))
        if any((q.language, wording(q.question)) == key for q in self.questions):
            raise ArticleConflict(f"{question.question!r} is already a golden question")
        self.questions.append(question)


@dataclass(frozen=True)
class SeedResult:
    """What importing the golden file changed."""

    added: int
    changed: int
    removed: int


class GoldenStore:
    """The golden questions in the database (see the module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self) -> list[GoldenQuestion]:
        """Every golden question, in the order they were added (the seed's first)."""
        c = golden_questions.c
        stmt = select(c.question, c.language, c.expect, c.facts, c.on_date).order_by(c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            GoldenQuestion(
                question=r.question, language=r.language, expect=r.expect, facts=r.facts, date=r.on_date
            )
            for r in rows
        ]

    def _row(self, question: GoldenQuestion, author: str, source: str) -> dict[str, object]:
        return {
            "question": question.question,
            "wording": wording(question.question),
            "language": question.language,
            "expect": list(question.expect),
            "facts": list(question.facts),
            "on_date": question.date,
            "source": source,
            "created_by": author[:255],
            "created_at": datetime.now(UTC),
        }

    async def add(self, question: GoldenQuestion, author: str) -> None:
        """Store one question; :class:`ArticleConflict` when it is already there (the unique
        constraint decides, so two processes adding it at once cannot both succeed)."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(golden_questions.insert().values(self._row(question, author, "console")))
        except IntegrityError:
            raise ArticleConflict(f"{question.question!r} is already a golden question") from None

    async def seed(self, questions: list[GoldenQuestion]) -> SeedResult:
        """Bring the file's questions in: new ones are added, a file question whose article,
        facts or date changed in the file is updated, and one no longer in the file is
        removed. Questions added in the console are never touched (an editor's question with
        the same wording stays the editor's). Safe to run at every start, in several
        processes at once."""
        c = golden_questions.c
        wanted = {(q.language, wording(q.question)): q for q in questions}
        async with self.engine.begin() as conn:
            stored = {
                (r.language, r.wording): r
                for r in await conn.execute(
                    select(c.id, c.language, c.wording, c.question, c.expect, c.facts, c.on_date, c.source)
                )
            }
            new = [self._row(q, "file", "file") for key, q in wanted.items() if key not in stored]
            if new:
                insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
                await conn.execute(
                    insert(golden_questions)
                    .values(new)
                    .on_conflict_do_nothing(index_elements=["language", "wording"])
                )
            changed = 0
            for key, q in wanted.items():
                row = stored.get(key)
                if row is None or row.source != "file":
                    continue
                now = {
                    "question": q.question,
                    "expect": list(q.expect),
                    "facts": list(q.facts),
                    "on_date": q.date,
                }
                if now != {
                    "question": row.question,
                    "expect": row.expect,
                    "facts": row.facts,
                    "on_date": row.on_date,
                }:
                    await conn.execute(update(golden_questions).where(c.id == row.id).values(**now))
                    changed += 1
            gone = [r.id for key, r in stored.items() if r.source == "file" and key not in wanted]
            if gone:
                await conn.execute(delete(golden_questions).where(c.id.in_(gone)))
        return SeedResult(added=len(new), changed=changed, removed=len(gone))
