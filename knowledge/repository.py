"""Articles and their versions in the database (the editor workflow's source of truth).

Every change is a new row in ``kb_article_versions`` with its author and time: nothing
is overwritten, so any version can be looked at or rolled back to. ``kb_articles`` says
which version is live (``published_version``) and the article's status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from knowledge.errors import ArticleConflict, ArticleNotFound
from knowledge.markdown import dump_article, parse_article
from knowledge.models import Article
from knowledge.tables import article_versions, articles

Status = Literal["draft", "published", "unpublished"]


class ArticleVersion(BaseModel):
    """One saved version of an article."""

    article_id: str
    version: int
    author: str
    note: str | None
    created_at: datetime
    content_hash: str
    article: Article
    #: when this version last went live; None for a version never published (a draft)
    published_at: datetime | None = None


class ArticleRecord(BaseModel):
    """An article's state: status, latest and published version numbers, last editor."""

    id: str
    status: Status
    latest_version: int
    published_version: int | None
    created_at: datetime
    updated_at: datetime
    updated_by: str
    title: str = ""
    language: str = "en"
    category: str = "general"


class ArticleRepository:
    """Reads and writes articles through an async SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def list_all(self) -> list[ArticleRecord]:
        """Every article with the title/language/category of its latest version."""
        query = (
            select(articles, article_versions.c.content)
            .join(
                article_versions,
                (article_versions.c.article_id == articles.c.id)
                & (article_versions.c.version == articles.c.latest_version),
            )
            .order_by(articles.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._record(row, parse_article(row["content"], row["id"])) for row in rows]

    async def get(self, article_id: str) -> ArticleRecord:
        """The article's state; raises :class:`ArticleNotFound`."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(articles).where(articles.c.id == article_id))).mappings().first()
        if row is None:
            raise ArticleNotFound(f"no article {article_id!r}")
        latest = await self.version(article_id, row["latest_version"])
        return self._record(row, latest.article)

    async def versions(self, article_id: str) -> list[ArticleVersion]:
        """All versions, oldest first."""
        query = (
            select(article_versions)
            .where(article_versions.c.article_id == article_id)
            .order_by(article_versions.c.version)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        if not rows:
            raise ArticleNotFound(f"no article {article_id!r}")
        return [self._version(row) for row in rows]

    async def version(self, article_id: str, version: int) -> ArticleVersion:
        query = select(article_versions).where(
            (article_versions.c.article_id == article_id) & (article_versions.c.version == version)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise ArticleNotFound(f"article {article_id!r} has no version {version}")
        return self._version(row)

    async def add_version(
        self,
        article: Article,
        author: str,
        note: str | None = None,
        *,
        create: bool | None = None,
        expected: int | None = None,
    ) -> ArticleVersion:
        """Save ``article`` as its next version (version 1 creates the article, as a draft).

        ``create`` True insists the article is new, False that it exists (None: either).
        ``expected`` is the latest version the change was made on: if another version was
        saved since, :class:`ArticleConflict` (optimistic concurrency: the editor reloads
        instead of overwriting a colleague's save). Two saves racing on the same version
        cannot both win either: the version row is only written if ``latest_version`` is
        still the one read.
        """
        now = datetime.now(UTC)
        content = dump_article(article)
        async with self.engine.begin() as conn:
            current = (
                await conn.execute(select(articles.c.latest_version).where(articles.c.id == article.id))
            ).scalar_one_or_none()
            if current is None and create is False:
                raise ArticleNotFound(f"no article {article.id!r}")
            if current is not None and create is True:
                raise ArticleConflict(f"article {article.id!r} already exists")
            if expected is not None and current is not None and current != expected:
                raise ArticleConflict(
                    f"article {article.id!r} is at version {current}, not {expected}: someone saved "
                    "a newer version; reload to see it"
                )
            version = (current or 0) + 1
            if current is None:
                await conn.execute(
                    articles.insert().values(
                        id=article.id,
                        status="draft",
                        latest_version=1,
                        published_version=None,
                        created_at=now,
                        updated_at=now,
                        updated_by=author,
                    )
                )
            else:
                moved = await conn.execute(
                    update(articles)
                    .where((articles.c.id == article.id) & (articles.c.latest_version == current))
                    .values(latest_version=version, updated_at=now, updated_by=author)
                )
                if moved.rowcount != 1:
                    raise ArticleConflict(
                        f"article {article.id!r} changed while saving; reload to see the newer version"
                    )
            await conn.execute(
                article_versions.insert().values(
                    article_id=article.id,
                    version=version,
                    content=content,
                    content_hash=article.content_hash(),
                    author=author,
                    note=note,
                    created_at=now,
                )
            )
        return ArticleVersion(
            article_id=article.id,
            version=version,
            author=author,
            note=note,
            created_at=now,
            content_hash=article.content_hash(),
            article=article,
        )

    async def set_status(
        self, article_id: str, status: Status, published_version: int | None, author: str
    ) -> None:
        """Record which version is live (None when unpublished); a version that goes live is
        marked with the time (``published_at``), so it can be rolled back to later."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(articles)
                .where(articles.c.id == article_id)
                .values(status=status, published_version=published_version, updated_at=now, updated_by=author)
            )
            if published_version is not None and result.rowcount:
                await conn.execute(
                    update(article_versions)
                    .where(
                        (article_versions.c.article_id == article_id)
                        & (article_versions.c.version == published_version)
                    )
                    .values(published_at=now)
                )
        if result.rowcount == 0:
            raise ArticleNotFound(f"no article {article_id!r}")

    async def published(self) -> list[Article]:
        """The live version of every published article (what the store must index)."""
        query = (
            select(article_versions.c.article_id, article_versions.c.content)
            .join(
                articles,
                (articles.c.id == article_versions.c.article_id)
                & (articles.c.published_version == article_versions.c.version),
            )
            .where(articles.c.status == "published")
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [parse_article(content, article_id) for article_id, content in rows]

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(articles))).scalar_one())

    @staticmethod
    def _record(row: object, latest: Article) -> ArticleRecord:
        data = dict(row)  # type: ignore[call-overload]
        data.pop("content", None)
        return ArticleRecord(**data, title=latest.title, language=latest.language, category=latest.category)

    @staticmethod
    def _version(row: object) -> ArticleVersion:
        data = dict(row)  # type: ignore[call-overload]
        article = parse_article(data.pop("content"), data["article_id"])
        return ArticleVersion(**data, article=article)
