"""Knowledge base settings (environment variables ``CONCIERGE_KB_*``) and the factory that wires it.

Built in ``main()``/``create_app()``, like :class:`bot.settings.Settings`; the factory
takes the process's encoder and database engine so nothing loads twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.database import is_sqlite_memory
from knowledge.chroma_store import DEFAULT_COLLECTION, ChromaKnowledgeStore
from knowledge.composer import AnswerComposer
from knowledge.editor import EditorService
from knowledge.encoder import TextEncoder
from knowledge.gaps import GapLog
from knowledge.golden import load_golden
from knowledge.golden_store import GoldenStore
from knowledge.guard import ConfidenceGuard
from knowledge.llm import LLMAnswerer, make_openai_client
from knowledge.repository import ArticleRepository
from knowledge.service import KnowledgeBase, LanguageGuesser
from knowledge.sync import IndexSync, claim_embedded_path


class KnowledgeSettings(BaseSettings):
    """Where the articles and the index are, and the optional LLM."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_KB_", extra="ignore")

    articles_dir: Path = Field(default=Path("data/knowledge"), description="relative to the project")
    golden_file: Path = Field(default=Path("data/knowledge_tests.yml"), description="relative to the project")
    chroma_url: str | None = Field(default=None, description="a Chroma server; default: embedded")
    chroma_path: Path | None = Field(default=None, description="embedded Chroma; default <state>/chroma")
    collection: str = Field(default=DEFAULT_COLLECTION, min_length=3)
    default_language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en", "pl", "uk", "ru"])
    min_score: float = 0.44
    confident_score: float = 0.55
    min_dense: float = 0.25
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1"
    )
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout: float = 8.0
    llm_structured: bool = Field(default=False, description="ask for JSON with citations (llama.cpp servers)")

    def guard(self) -> ConfidenceGuard:
        return ConfidenceGuard(
            min_score=self.min_score, confident_score=self.confident_score, min_dense=self.min_dense
        )


@dataclass
class KnowledgeServices:
    """The wired knowledge base: what the engine, the CLI and the console routes use."""

    kb: KnowledgeBase
    store: ChromaKnowledgeStore
    editor: EditorService | None = None
    gaps: GapLog | None = None
    llm_client: object | None = None
    sync: IndexSync | None = None  # follows articles published by other processes
    claim: IO[bytes] | None = None  # holds this process's embedded index directory

    async def aclose(self) -> None:
        """Stop following, close the LLM client and give the index directory back (the engine
        and the Chroma client belong to the caller / process)."""
        if self.sync is not None:
            await self.sync.stop()
        close = getattr(self.llm_client, "close", None)
        if close is not None:
            await close()
        if self.claim is not None:
            self.claim.close()
            self.claim = None


async def build_knowledge(
    kb_settings: KnowledgeSettings,
    encoder: TextEncoder,
    *,
    project_dir: Path,
    state_dir: Path,
    engine: AsyncEngine | None = None,
    detector: LanguageGuesser | None = None,
    follow: bool = False,
) -> KnowledgeServices:
    """Wire store, composer (with the LLM when configured), gap log and editor service.

    Without ``engine`` there is no editor workflow and no gap log (e.g. ``kb ask``
    on a machine without the database); the database must be migrated already.
    ``follow`` (a serving process): the embedded index gets a directory no other process
    uses, and ``sync`` follows the articles other processes publish (start it with
    ``sync.start()`` once the index is bootstrapped; see :mod:`knowledge.sync`).
    """
    claim = None
    if kb_settings.chroma_url:
        store = await asyncio.to_thread(
            ChromaKnowledgeStore.remote, kb_settings.chroma_url, encoder, collection=kb_settings.collection
        )
    else:
        path = kb_settings.chroma_path or state_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        if follow:
            path, claim = claim_embedded_path(path)
        store = await asyncio.to_thread(
            ChromaKnowledgeStore.embedded, str(path), encoder, collection=kb_settings.collection
        )
    llm_client = None
    llm = None
    if kb_settings.llm_base_url:
        llm_client = make_openai_client(
            kb_settings.llm_base_url, kb_settings.llm_api_key, kb_settings.llm_timeout
        )
        llm = LLMAnswerer(
            llm_client,
            kb_settings.llm_model,
            timeout=kb_settings.llm_timeout,
            structured=kb_settings.llm_structured,
        )
    gaps = GapLog(engine) if engine is not None else None
    kb = KnowledgeBase(
        store,
        AnswerComposer(kb_settings.guard(), llm),
        gaps=gaps,
        detector=detector,
        default_language=kb_settings.default_language,
    )  # type: ignore[arg-type]
    editor = None
    if engine is not None:
        # the file seeds the table (new questions only); the table is what every process runs
        golden = GoldenStore(engine)
        golden_path = project_dir / kb_settings.golden_file
        if golden_path.is_file():
            await golden.seed(load_golden(golden_path))
        languages = {kb_settings.default_language, *kb_settings.languages}
        editor = EditorService(ArticleRepository(engine), kb, golden, languages=languages)
    sync = None
    # An in-memory SQLite database lives in this one process (nobody else can publish into
    # it) and in ONE shared connection: the sync's own connections would interleave with the
    # event store's transactions on it and roll back appends in flight.
    if follow and editor is not None and engine is not None and not is_sqlite_memory(engine.url):
        sync = IndexSync(editor, engine)
    return KnowledgeServices(
        kb=kb, store=store, editor=editor, gaps=gaps, llm_client=llm_client, sync=sync, claim=claim
    )
