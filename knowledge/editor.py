"""The editors' workflow: versions, publish / unpublish / rollback, and the golden gate.

Drafts live only in the database; the store indexes published versions only. Every
change that alters what clients can be told (publish, unpublish, a rollback of a live
article) is first tried on an in-memory copy of the live index, and refused with
:class:`~knowledge.errors.GoldenRegression` when a golden question that passes today
would fail after it, or its answer would drop (or contradict) a fact it states today.
Questions that already fail do not block an unrelated change; ``run_golden`` shows them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from datetime import date

from pydantic import BaseModel

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.composer import AnswerComposer
from knowledge.errors import ArticleConflict, GoldenRefused, GoldenRegression
from knowledge.golden import GoldenQuestion, GoldenReport, GoldenResult, run_golden
from knowledge.golden_store import GoldenList, GoldenSet
from knowledge.guard import Verdict
from knowledge.models import Answer, Article, Passage
from knowledge.repository import ArticleRecord, ArticleRepository, ArticleVersion
from knowledge.service import KnowledgeBase


def _regressed(before: GoldenResult, after: GoldenResult) -> bool:
    """A question that passed and fails, lost its article, or lost a fact it stated before."""
    if before.passed and not after.passed:
        return True
    if before.article_ok and not after.article_ok:
        return True
    return any(b.ok and not a.ok for b, a in zip(before.facts, after.facts, strict=True))


class TryResult(BaseModel):
    """What "try a question" shows an editor: passages with scores, the verdict and the answer."""

    question: str
    language: str
    passages: list[Passage]
    verdict: Verdict
    answer: Answer


class EditorService:
    """Editing operations over the repository (truth) and the live knowledge base (index)."""

    def __init__(
        self,
        repository: ArticleRepository,
        kb: KnowledgeBase,
        golden: GoldenSet | list[GoldenQuestion],
        *,
        languages: Collection[str] | None = None,
    ) -> None:
        self.repository = repository
        self.kb = kb
        # the database's table (every process reads it on each check), or this process's list
        self.golden: GoldenSet = GoldenList(golden) if isinstance(golden, list) else golden
        #: the languages a golden question may be in (the bot's); None: any
        self.languages = frozenset(languages) if languages is not None else None
        # one change at a time: two publishes checked against the same index could both pass
        self._lock = asyncio.Lock()

    @property
    def store(self) -> ChromaKnowledgeStore:
        store = self.kb.store
        if not isinstance(store, ChromaKnowledgeStore):
            raise TypeError("the editor workflow needs a store that can snapshot itself")
        return store

    # ---- drafts ------------------------------------------------------------
    async def create(self, article: Article, author: str) -> ArticleVersion:
        """A new article as a draft (version 1); its id must be new."""
        return await self.repository.add_version(article, author, "created", create=True)

    async def update(
        self,
        article_id: str,
        article: Article,
        author: str,
        note: str | None = None,
        *,
        base_version: int | None = None,
    ) -> ArticleVersion:
        """Save an edit as the next version; the live version is unchanged until published.

        ``base_version``: the version the edit was made on; a newer one saved meanwhile
        refuses the save (:class:`ArticleConflict`) instead of silently replacing it.
        """
        if article.id != article_id:
            raise ArticleConflict(
                f"the article's id is {article_id!r}; it cannot be changed to {article.id!r}"
            )
        return await self.repository.add_version(
            article, author, note or "edited", create=False, expected=base_version
        )

    # ---- what clients see ----------------------------------------------------
    async def publish(self, article_id: str, author: str, version: int | None = None) -> ArticleRecord:
        """Make ``version`` (default: the latest) live, if no golden question regresses."""
        async with self._lock:
            record = await self.repository.get(article_id)
            chosen = await self.repository.version(article_id, version or record.latest_version)
            await self._gate(article_id, lambda store: store.upsert(chosen.article))
            await self._go_live(chosen, author)
        return await self.repository.get(article_id)

    async def _go_live(self, chosen: ArticleVersion, author: str) -> None:
        await self.store.upsert(chosen.article)
        await self.repository.set_status(chosen.article_id, "published", chosen.version, author)

    async def unpublish(self, article_id: str, author: str) -> ArticleRecord:
        """Take the article off the index (its versions stay), if no golden question regresses."""
        async with self._lock:
            await self.repository.get(article_id)
            await self._gate(article_id, lambda store: store.delete(article_id))
            await self.store.delete(article_id)
            await self.repository.set_status(article_id, "unpublished", None, author)
        return await self.repository.get(article_id)

    async def rollback(
        self, article_id: str, version: int, author: str, *, base_version: int | None = None
    ) -> ArticleVersion:
        """Restore a version that was once published as the newest one; a published article
        goes live with it (checked against the golden questions first: a refused rollback
        changes nothing). A version never published (a draft) is refused: rolling back
        means returning to what clients were told. ``base_version`` as in :meth:`update`.
        """
        async with self._lock:
            old = await self.repository.version(article_id, version)
            if old.published_at is None:
                raise ArticleConflict(
                    f"version {version} of {article_id!r} was never published; "
                    "only a published version can be rolled back to"
                )
            record = await self.repository.get(article_id)
            if base_version is not None and record.latest_version != base_version:
                raise ArticleConflict(
                    f"article {article_id!r} is at version {record.latest_version}, not {base_version}: "
                    "someone saved a newer version; reload to see it"
                )
            live = record.status == "published"
            if live:
                await self._gate(article_id, lambda store: store.upsert(old.article))
            restored = await self.repository.add_version(
                old.article,
                author,
                f"rollback to version {version}",
                create=False,
                expected=record.latest_version,
            )
            if live:
                await self._go_live(restored, author)
        return restored

    async def _gate(
        self, article_id: str, change: Callable[[ChromaKnowledgeStore], Awaitable[object]]
    ) -> None:
        """Apply ``change`` to a copy of the live index and refuse it on golden regressions."""
        golden = await self.golden.all()
        if not golden:
            return
        before = await run_golden(self.kb, golden)
        candidate = await self.store.snapshot()
        try:
            await change(candidate)
            trial = KnowledgeBase(
                candidate,
                AnswerComposer(self.kb.composer.guard),
                default_language=self.kb.default_language,
                k=self.kb.k,
            )
            after = await run_golden(trial, golden)
        finally:
            candidate.drop()
        regressions = [a for b, a in zip(before.results, after.results, strict=True) if _regressed(b, a)]
        if regressions:
            raise GoldenRegression(article_id, regressions)

    # ---- checks ------------------------------------------------------------
    async def try_question(
        self, question: str, language: str | None = None, on: date | None = None
    ) -> TryResult:
        """Ask like a client would (no gap logged), showing everything behind the answer."""
        language = language or self.kb.detect_language(question)
        passages, verdict = await self.kb.retrieve(question, language, on=on)
        answer = await self.kb.composer.compose(question, language, passages, verdict)
        return TryResult(
            question=question, language=language, passages=passages, verdict=verdict, answer=answer
        )

    async def add_golden(self, question: GoldenQuestion, author: str = "console") -> GoldenResult:
        """Add a golden question (e.g. from the gaps list) and run it.

        It may fail today (an editor's to-do: the gate refuses only changes that make a
        passing question fail). It must be in a language the bot speaks
        (:class:`GoldenRefused` otherwise); the same question in the same language cannot
        be added twice; an expected article must exist. Stored in the golden set (the
        database's table), so every process's next check runs it; nothing is retrained.
        """
        if self.languages is not None and question.language not in self.languages:
            spoken = ", ".join(sorted(self.languages))
            raise GoldenRefused(f"language {question.language!r} is not one the bot speaks ({spoken})")
        for article_id in question.expect:
            await self.repository.get(article_id)
        await self.golden.add(question, author)
        return (await run_golden(self.kb, [question])).results[0]

    async def run_golden(self) -> GoldenReport:
        """All golden questions against the live index."""
        return await run_golden(self.kb, await self.golden.all())

    async def sync_index(self, progress: Callable[[int], None] | None = None) -> int:
        """Make the index hold exactly the published versions (at start-up); returns articles indexed."""
        published = await self.repository.published()
        live = {a.id for a in published}
        for stale in set(await self.store.article_hashes()) - live:
            await self.store.delete(stale)
        await self.store.upsert_many(published, progress)
        return len(published)

    async def follow_published(self) -> int:
        """Re-sync the index after another process changed what is published (see
        :mod:`knowledge.sync`); one change at a time with this process's own edits."""
        async with self._lock:
            return await self.sync_index()

    async def import_articles(
        self, articles: list[Article], author: str, progress: Callable[[int], None] | None = None
    ) -> list[str]:
        """Bring file articles (``data/knowledge``) in as new published versions when the file changed.

        This is ``concierge kb ingest``'s path when a database is configured; files are
        the editors' bulk tool, so no golden gate here (``kb test`` reports after). A file
        whose content any earlier version already had is skipped, so an edit made in the
        console is not overwritten by an unchanged file on the next ingest.
        Returns the ids that changed.
        """
        changed: list[str] = []
        existing = {r.id for r in await self.repository.list_all()}
        for article in articles:
            if article.id in existing:
                seen = {v.content_hash for v in await self.repository.versions(article.id)}
                if article.content_hash() in seen:
                    continue
            saved = await self.repository.add_version(article, author, "imported from file")
            await self.repository.set_status(article.id, "published", saved.version, author)
            changed.append(article.id)
        await self.sync_index(progress)
        return changed

    async def bootstrap(self, articles: list[Article], progress: Callable[[int], None] | None = None) -> int:
        """At start-up: import the shipped articles (new or changed files) and index what is published."""
        await self.import_articles(articles, "files", progress)
        return len(await self.repository.published())
