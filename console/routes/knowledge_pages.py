"""The knowledge editor in the console: the editor API (``console/routes/knowledge.py``)
mounted behind sign-in, and the editor's pages.

Roles: agents, editors, managers and admins read articles, try questions and see the
golden report and the gaps; editors, managers and admins change articles. Every change
(create, edit, publish, unpublish, rollback, and a publish the golden questions refused)
is written to the audit log by :class:`AuditedEditor`, which wraps the editor service
the API routes receive.

Pages (server-rendered shells; ``console-knowledge.js`` fills them from the API, always
as text): ``/console/knowledge`` (articles with status and versions), ``/console/knowledge/new``,
``/console/knowledge/articles/{id}`` (edit form, versions, publish / unpublish / rollback),
``/console/knowledge/try``, ``/console/knowledge/golden``, ``/console/knowledge/gaps``.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import HTMLResponse

from console.audit import record
from console.deps import KNOWLEDGE_READ_ROLES, KNOWLEDGE_WRITE_ROLES, Unavailable, current_user, require_roles
from console.routes import knowledge
from console.running import running_services
from console.security.models import ConsoleUser
from console.web import render
from knowledge.editor import EditorService
from knowledge.errors import GoldenRegression
from knowledge.models import ARTICLE_ID

Reader = Annotated[ConsoleUser, Depends(require_roles(*KNOWLEDGE_READ_ROLES))]
Writer = Annotated[ConsoleUser, Depends(require_roles(*KNOWLEDGE_WRITE_ROLES))]


class AuditedEditor:
    """The editor service for one request: changes go through, then into the audit log.

    Reads (``repository``, ``kb``, ``try_question``, ``run_golden``) pass straight to the
    wrapped service. A publish, unpublish or rollback the golden questions refuse is
    audited as ``knowledge.<action>_refused`` with the failing questions, then re-raised.
    """

    def __init__(self, editor: EditorService, request: Request) -> None:
        self._editor = editor
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._editor, name)

    async def _audited(self, action: str, article_id: str, detail: dict[str, Any], call: Any) -> Any:
        user = getattr(self._request.state, "console_user", None) or "unknown"
        try:
            result = await call
        except GoldenRegression as exc:
            failing = [f.question for f in exc.failures]
            lost = sorted({c.fact for f in exc.failures for c in f.lost_facts()})
            await record(
                self._request,
                user,
                f"knowledge.{action}_refused",
                f"article:{article_id}",
                {**detail, "failing": failing, **({"lost_facts": lost} if lost else {})},
            )
            raise
        await record(self._request, user, f"knowledge.{action}", f"article:{article_id}", detail)
        return result

    async def create(self, article: Any, author: str) -> Any:
        """See :meth:`EditorService.create`."""
        return await self._audited(
            "create", article.id, {"title": article.title}, self._editor.create(article, author)
        )

    async def update(
        self, article_id: str, article: Any, author: str, note: str | None = None, **kwargs: Any
    ) -> Any:
        """See :meth:`EditorService.update`."""
        detail: dict[str, Any] = {"note": note}

        async def update() -> Any:
            saved = await self._editor.update(article_id, article, author, note, **kwargs)
            detail["version"] = saved.version
            return saved

        return await self._audited("edit", article_id, detail, update())

    async def publish(self, article_id: str, author: str, version: int | None = None) -> Any:
        """See :meth:`EditorService.publish`."""
        # the audit says which version went live (the request may leave it to "the latest",
        # which the entry used to show as {"version": null}); a refusal says what was asked
        detail: dict[str, Any] = {"version": version if version is not None else "latest"}

        async def publish() -> Any:
            record_ = await self._editor.publish(article_id, author, version)
            detail["version"] = record_.published_version
            return record_

        return await self._audited("publish", article_id, detail, publish())

    async def unpublish(self, article_id: str, author: str) -> Any:
        """See :meth:`EditorService.unpublish`."""
        return await self._audited("unpublish", article_id, {}, self._editor.unpublish(article_id, author))

    async def rollback(self, article_id: str, version: int, author: str, **kwargs: Any) -> Any:
        """See :meth:`EditorService.rollback`; the entry names the version restored and the
        new version it became (``{"to_version": 1, "version": 4, "live": true}``)."""
        detail: dict[str, Any] = {"to_version": version}

        async def rollback() -> Any:
            restored = await self._editor.rollback(article_id, version, author, **kwargs)
            record_ = await self._editor.repository.get(article_id)
            detail["version"] = restored.version
            detail["live"] = record_.published_version == restored.version
            return restored

        return await self._audited("rollback", article_id, detail, rollback())

    async def add_golden(self, question: Any, author: str) -> Any:
        """See :meth:`EditorService.add_golden`."""
        user = getattr(self._request.state, "console_user", None) or author
        result = await self._editor.add_golden(question, author)
        detail = {"language": question.language, "expect": question.expect, "facts": len(question.facts)}
        await record(self._request, user, "knowledge.golden_add", "golden", detail)
        return result


def live_editor(request: Request) -> EditorService:
    """The process's editor service: ``app.state.kb_editor`` if set, else the engine's.

    Without one (no articles, or the domain does not use it) a stand-in that answers 503
    once the route uses it, so a malformed request still gets its 422 first.
    """
    editor = getattr(request.app.state, "kb_editor", None)
    if editor is None:
        services = running_services(request)
        knowledge = services.knowledge if services is not None else None
        editor = knowledge.editor if knowledge is not None else None
    if editor is None:
        return cast(EditorService, Unavailable("This project has no knowledge base to edit."))
    return editor  # type: ignore[no-any-return]


def audited_editor(request: Request) -> EditorService:
    """:func:`live_editor`, wrapped so every change is audited."""
    return AuditedEditor(live_editor(request), request)  # type: ignore[return-value]


def pages() -> APIRouter:
    """The editor's pages."""
    routes = APIRouter()

    def page(request: Request, user: ConsoleUser, name: str, **context: Any) -> HTMLResponse:
        can_write = user.role in KNOWLEDGE_WRITE_ROLES
        return render(request, name, {"can_write": can_write, **context}, user=user, section="knowledge")

    @routes.get("/console/knowledge", response_class=HTMLResponse, include_in_schema=False)
    async def articles(request: Request, user: Reader) -> HTMLResponse:
        return page(request, user, "knowledge_list.html")

    @routes.get("/console/knowledge/new", response_class=HTMLResponse, include_in_schema=False)
    async def new_article(request: Request, user: Writer) -> HTMLResponse:
        return page(request, user, "knowledge_edit.html", article_id=None)

    @routes.get(
        "/console/knowledge/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False
    )
    async def edit_article(
        request: Request, user: Reader, article_id: Annotated[str, Path(pattern=ARTICLE_ID)]
    ) -> HTMLResponse:
        return page(request, user, "knowledge_edit.html", article_id=article_id)

    @routes.get("/console/knowledge/try", response_class=HTMLResponse, include_in_schema=False)
    async def try_page(request: Request, user: Reader) -> HTMLResponse:
        return page(request, user, "knowledge_try.html")

    @routes.get("/console/knowledge/golden", response_class=HTMLResponse, include_in_schema=False)
    async def golden_page(request: Request, user: Reader) -> HTMLResponse:
        return page(request, user, "knowledge_golden.html")

    @routes.get("/console/knowledge/gaps", response_class=HTMLResponse, include_in_schema=False)
    async def gaps_page(request: Request, user: Reader) -> HTMLResponse:
        return page(request, user, "knowledge_gaps.html")

    return routes


def include(app: FastAPI) -> None:
    """Mount the editor API behind the console's sign-in, and the editor's pages."""
    app.include_router(
        knowledge.router(
            audited_editor,
            current_user,
            reader=require_roles(*KNOWLEDGE_READ_ROLES, scope="knowledge:read"),
            writer=require_roles(*KNOWLEDGE_WRITE_ROLES, scope="knowledge:write"),
        )
    )
    app.include_router(pages())
