"""The knowledge editor API (``/api/knowledge``): articles with versions, publish /
unpublish / rollback behind the golden questions, "try a question", golden report, gaps.

Mount with ``app.include_router(knowledge.router(get_editor, current_user))``:

- ``get_editor`` is a FastAPI dependency returning the process's
  :class:`~knowledge.editor.EditorService` (e.g. ``lambda request: request.app.state.kb_editor``);
- ``current_user`` is the console's authentication dependency returning an object with
  ``name`` and ``role``; it should raise 401 itself when nobody is logged in. Reading and
  trying questions need one of ``read_roles``; changing articles one of ``write_roles``.
  Until the console has logins, pass a dependency that returns a fixed editor.

A refused publish answers 409 with ``detail.failing``: the golden questions that would fail;
an unknown article 404; malformed content 422 (all in the app's error shape,
:class:`console.errors.ErrorBody`).
"""

# no ``from __future__ import annotations``: the routes' dependencies are local to router(),
# and FastAPI must see the real Annotated[...] objects, not strings it cannot resolve.
import asyncio
import datetime as dt
from collections.abc import Callable, Collection, Coroutine
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError

from bot.errors import FormatError
from console.errors import error_response
from knowledge.diff import ArticleDiff, article_diff
from knowledge.editor import EditorService, TryResult
from knowledge.errors import ArticleConflict, ArticleNotFound, GoldenRefused, GoldenRegression
from knowledge.gaps import GapGroup
from knowledge.golden import GoldenQuestion, GoldenReport, GoldenResult
from knowledge.models import ARTICLE_ID, RESPONSE_KEY, Article
from knowledge.preview import render_markdown
from knowledge.repository import ArticleRecord, ArticleVersion

READ_ROLES = frozenset({"agent", "editor", "manager", "admin"})
MAX_ANSWER = 4_000
MAX_BODY = 200_000  # characters of Markdown: the longest demo article is a few thousand
WRITE_ROLES = frozenset({"editor", "manager", "admin"})


class ConsoleUser(Protocol):
    """What the router needs to know about the logged-in user."""

    name: str
    role: str


class ArticleContent(BaseModel):
    """An article's editable content (everything but the id)."""

    title: str = Field(min_length=1, max_length=200)
    category: str = Field(default="general", min_length=1, max_length=64)
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    answer: str | None = Field(default=None, max_length=MAX_ANSWER)
    translation_of: str | None = Field(default=None, pattern=ARTICLE_ID)
    response_keys: list[Annotated[str, Field(pattern=RESPONSE_KEY)]] | None = Field(
        default=None, max_length=20, description="response selector keys it answers; omitted: unchanged"
    )
    body: str = Field(default="", max_length=MAX_BODY)

    def to_article(self, article_id: str, keep_keys: list[str] | None = None) -> Article:
        """The article; ``response_keys`` left out keeps ``keep_keys`` (an edit made by a page
        that does not show them must not cut the article off the FAQ it answers)."""
        content = self.model_dump(include=set(ArticleContent.model_fields) - {"response_keys"})
        keys = self.response_keys if self.response_keys is not None else (keep_keys or [])
        return Article(id=article_id, response_keys=keys, **content)


class ArticleCreate(ArticleContent):
    id: str = Field(pattern=ARTICLE_ID)


class ArticleUpdate(ArticleContent):
    note: str | None = Field(default=None, max_length=500, description="what changed, for the history")
    base_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="the latest version the edit was made on; 409 if a newer one was saved since",
    )


class ArticleDetail(BaseModel):
    """An article's state with its latest and its live content."""

    record: ArticleRecord
    latest: Article
    published: Article | None


class VersionPublic(BaseModel):
    version: int
    author: str
    note: str | None
    created_at: dt.datetime
    content_hash: str
    article: Article
    published_at: dt.datetime | None = Field(
        default=None, description="when it last went live; None: never published (cannot be rolled back to)"
    )


class PublishRequest(BaseModel):
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="default: the latest version")


class RollbackRequest(BaseModel):
    version: int = Field(ge=1, le=2**31 - 1, description="a version that was published once")
    base_version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the latest version the editor saw; 409 if stale"
    )


class PreviewRequest(BaseModel):
    """Markdown to preview (an article's body as typed, before it is saved)."""

    body: str = Field(max_length=MAX_BODY)


class Preview(BaseModel):
    """The body as safe HTML: no raw HTML, no unsafe links, no images (knowledge/preview.py)."""

    html: str


class TryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    date: dt.date | None = None


class GoldenCreate(BaseModel):
    """A new golden question, e.g. from the gaps list: ``expect`` empty means "must not be answered"."""

    question: str = Field(min_length=1, max_length=500)
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    expect: list[Annotated[str, Field(pattern=ARTICLE_ID)]] = Field(default_factory=list, max_length=5)
    facts: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=10
    )
    date: dt.date | None = None


class RefusedChange(BaseModel):
    """The body of a 409 for a change the golden questions refused."""

    message: str
    failing: list[GoldenResult]


class KnowledgeRoute(APIRoute):
    """Translates the knowledge base's errors at the edge: 404 unknown article, 409 a
    conflicting change or one the golden questions refused (with the failing ones),
    422 malformed content. Mounting the router is enough; no app-wide handlers needed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except ArticleNotFound as exc:
                return error_response(status.HTTP_404_NOT_FOUND, "not_found", str(exc), detail=str(exc))
            except GoldenRegression as exc:
                body = RefusedChange(message=str(exc), failing=exc.failures)
                return error_response(
                    status.HTTP_409_CONFLICT,
                    "golden_regression",
                    str(exc),
                    detail=body.model_dump(mode="json"),
                )
            except ArticleConflict as exc:
                return error_response(status.HTTP_409_CONFLICT, "conflict", str(exc), detail=str(exc))
            except GoldenRefused as exc:
                return error_response(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request", str(exc), detail=str(exc)
                )
            except (FormatError, ValidationError) as exc:
                # the problems only (never the submitted values, which ValidationError's text repeats)
                problems = _problems(exc)
                return error_response(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request", problems, detail=problems
                )

        return translated


def _problems(exc: FormatError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'article'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _version(v: ArticleVersion) -> VersionPublic:
    return VersionPublic(**v.model_dump(exclude={"article_id"}))


def router(
    get_editor: Callable[..., EditorService],
    current_user: Callable[..., ConsoleUser],
    *,
    read_roles: Collection[str] = READ_ROLES,
    write_roles: Collection[str] = WRITE_ROLES,
    reader: Callable[..., Any] | None = None,
    writer: Callable[..., Any] | None = None,
) -> APIRouter:
    """The knowledge routes; see the module docstring for the two dependencies.

    ``reader`` / ``writer``, when given, are the dependencies that admit readers and
    writers instead of the role checks over ``current_user`` (the console passes its own,
    which also admit API tokens with the ``knowledge:read`` / ``knowledge:write`` scopes).
    """
    routes = APIRouter(prefix="/api/knowledge", tags=["knowledge"], route_class=KnowledgeRoute)
    Editor = Annotated[EditorService, Depends(get_editor)]

    def role_check(allowed: Collection[str]) -> Callable[..., Any]:
        async def check(user: Annotated[Any, Depends(current_user)]) -> ConsoleUser:
            if getattr(user, "role", None) not in allowed:
                raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")
            return user  # type: ignore[no-any-return]

        return check

    Reader = Annotated[ConsoleUser, Depends(reader or role_check(read_roles))]
    Writer = Annotated[ConsoleUser, Depends(writer or role_check(write_roles))]

    async def detail(editor: EditorService, article_id: str) -> ArticleDetail:
        record = await editor.repository.get(article_id)
        latest = await editor.repository.version(article_id, record.latest_version)
        live = (
            await editor.repository.version(article_id, record.published_version)
            if record.published_version
            else None
        )
        return ArticleDetail(record=record, latest=latest.article, published=live.article if live else None)

    @routes.get("/articles", response_model=list[ArticleRecord])
    async def list_articles(editor: Editor, _: Reader) -> list[ArticleRecord]:
        return await editor.repository.list_all()

    @routes.post("/articles", response_model=ArticleDetail, status_code=status.HTTP_201_CREATED)
    async def create_article(body: ArticleCreate, editor: Editor, user: Writer) -> ArticleDetail:
        await editor.create(body.to_article(body.id), user.name)
        return await detail(editor, body.id)

    @routes.get("/articles/{article_id}", response_model=ArticleDetail)
    async def get_article(article_id: str, editor: Editor, _: Reader) -> ArticleDetail:
        return await detail(editor, article_id)

    @routes.put("/articles/{article_id}", response_model=ArticleDetail)
    async def edit_article(
        article_id: str, body: ArticleUpdate, editor: Editor, user: Writer
    ) -> ArticleDetail:
        content = ArticleContent(**body.model_dump(exclude={"note", "base_version"}))
        record = await editor.repository.get(article_id)
        latest = await editor.repository.version(article_id, record.latest_version)
        article = content.to_article(article_id, latest.article.response_keys)
        await editor.update(article_id, article, user.name, body.note, base_version=body.base_version)
        return await detail(editor, article_id)

    @routes.get("/articles/{article_id}/versions", response_model=list[VersionPublic])
    async def versions(article_id: str, editor: Editor, _: Reader) -> list[VersionPublic]:
        return [_version(v) for v in await editor.repository.versions(article_id)]

    @routes.get("/articles/{article_id}/diff", response_model=ArticleDiff)
    async def diff(
        article_id: str,
        editor: Editor,
        _: Reader,
        base: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="default: live")] = None,
        target: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="default: latest")] = None,
    ) -> ArticleDiff:
        record = await editor.repository.get(article_id)
        base = base or record.published_version
        target = target or record.latest_version
        old = (await editor.repository.version(article_id, base)).article if base else None
        new = (await editor.repository.version(article_id, target)).article
        # difflib is CPU work on up to 200,000 characters: off the event loop
        return await asyncio.to_thread(article_diff, article_id, old, base, new, target)

    @routes.post("/articles/{article_id}/publish", response_model=ArticleDetail)
    async def publish(
        article_id: str, editor: Editor, user: Writer, body: PublishRequest | None = None
    ) -> ArticleDetail:
        await editor.publish(article_id, user.name, body.version if body else None)
        return await detail(editor, article_id)

    @routes.post("/articles/{article_id}/unpublish", response_model=ArticleDetail)
    async def unpublish(article_id: str, editor: Editor, user: Writer) -> ArticleDetail:
        await editor.unpublish(article_id, user.name)
        return await detail(editor, article_id)

    @routes.post("/articles/{article_id}/rollback", response_model=ArticleDetail)
    async def rollback(article_id: str, body: RollbackRequest, editor: Editor, user: Writer) -> ArticleDetail:
        await editor.rollback(article_id, body.version, user.name, base_version=body.base_version)
        return await detail(editor, article_id)

    rendering = asyncio.Semaphore(1)

    @routes.post("/preview", response_model=Preview)
    async def preview(body: PreviewRequest, _: Reader) -> Preview:
        # markdown-it on up to 200,000 characters is CPU work: off the event loop, and one
        # render at a time per process (crafted Markdown such as 200,000 '[' takes ~7 s, and
        # each thread running it takes a share of the interpreter lock from the serving loop)
        async with rendering:
            return Preview(html=await asyncio.to_thread(render_markdown, body.body))

    @routes.post("/try", response_model=TryResult)
    async def try_question(body: TryRequest, editor: Editor, _: Reader) -> TryResult:
        return await editor.try_question(body.question, body.language, body.date)

    @routes.get("/golden", response_model=GoldenReport)
    async def golden(editor: Editor, _: Reader) -> GoldenReport:
        return await editor.run_golden()

    @routes.post("/golden", response_model=GoldenResult, status_code=status.HTTP_201_CREATED)
    async def add_golden(body: GoldenCreate, editor: Editor, user: Writer) -> GoldenResult:
        question = GoldenQuestion(
            question=body.question.strip(),
            language=body.language,
            expect=body.expect,
            facts=[f.strip() for f in body.facts if f.strip()],
            date=body.date,
        )
        return await editor.add_golden(question, user.name)

    @routes.get("/gaps", response_model=list[GapGroup])
    async def gaps(
        editor: Editor,
        _: Reader,
        days: Annotated[int, Query(ge=1, le=365)] = 30,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> list[GapGroup]:
        log = editor.kb.gaps
        if log is None or not hasattr(log, "report"):
            return []
        return await log.report(days=days, limit=limit)  # type: ignore[no-any-return]

    return routes
