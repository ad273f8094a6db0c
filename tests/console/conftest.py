"""Console test support: a real database (SQLite, and PostgreSQL in a throwaway schema), the
app built by ``create_app`` over it, users of each role, and signing in like a browser.

``console_app`` serves without an engine: the console platform opens its own migrated
store from ``settings.database_url``. ``sign_in(client, username)`` goes through the login
page (pre-login cookie and CSRF token) and returns the CSRF token for later changes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from bot.engine import Engine
from bot.settings import Settings
from concierge.compose import Services
from console.app import create_app
from console.security.models import Role
from console.security.platform import ConsolePlatform
from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.editor import EditorService
from tests.console.workspace_support import demo_services, demo_settings, offline, train_demo
from tests.database_support import scratch_database

PASSWORD = "correct horse battery"
KB_ARTICLES = ("lateness-policy", "gift-cards", "cancellation-policy", "deposits", "refer-a-friend")
ROLE_USERS: dict[Role, str] = {"agent": "anna.kowalska", "editor": "ewa", "manager": "kasia", "admin": "root"}


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[str]:
    """A fresh, empty database on each backend (PostgreSQL: a schema dropped afterwards)."""
    async with scratch_database(request.param, tmp_path, postgres_url, "test_console") as database:
        yield database.url if database.schema is None else database.full_url


@pytest.fixture
def console_settings(database_url: str, tmp_path: Path, repo_dir: Path) -> Settings:
    """Settings of the demo project over the test database (demo mode off)."""
    return Settings(project_dir=repo_dir, state_dir=tmp_path / "state", database_url=database_url)


@pytest_asyncio.fixture
async def console_app(console_settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app, without a bot engine; its console platform is closed afterwards."""
    app = create_app(console_settings)
    try:
        yield app
    finally:
        await app.state.console.close()


@pytest_asyncio.fixture
async def platform(console_app: FastAPI) -> ConsolePlatform:
    """The app's console platform, opened (tables migrated)."""
    return await console_app.state.console.ready()  # type: ignore[no-any-return]


async def add_user(
    platform: ConsolePlatform,
    username: str,
    role: Role,
    password: str = PASSWORD,
    agent_id: str | None = None,
) -> int:
    """Create an account directly (as the CLI does); returns its id."""
    created = await platform.accounts.create(
        username,
        display_name=username.title(),
        role=role,
        agent_id=agent_id,
        password_hash=await platform.passwords.hash(password),
    )
    return created.id


@pytest_asyncio.fixture
async def role_users(platform: ConsolePlatform) -> dict[Role, str]:
    """One account per role (all with :data:`PASSWORD`); role -> username."""
    for role, username in ROLE_USERS.items():
        await add_user(platform, username, role, agent_id="anna.kowalska" if role == "agent" else None)
    return dict(ROLE_USERS)


def client_for(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """An HTTP client talking to ``app`` in process (cookies kept like a browser)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def login_csrf(client: httpx.AsyncClient) -> str:
    """Open the login page like a browser; returns the login form's CSRF token."""
    page = await client.get("/console/login")
    assert page.status_code == 200, page.text
    found = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert found, "the login form carries its CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login page; returns the session's CSRF token."""
    token = await login_csrf(client)
    response = await client.post(
        "/console/login", json={"username": username, "password": password}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["user"]["csrf_token"])


@pytest.fixture(scope="session")
def kb_encoder() -> object:
    """The bundled MiniLM encoder, loaded once for the console tests."""
    from knowledge.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="session")
def kb_base_store(kb_encoder: object, repo_dir: Path) -> Iterator[ChromaKnowledgeStore]:
    """A few demo articles indexed once; each test edits its own snapshot."""
    from knowledge.markdown import load_articles

    store = ChromaKnowledgeStore.in_memory(kb_encoder)  # type: ignore[arg-type]
    store.upsert_many_sync([a for a in load_articles(repo_dir / "data" / "knowledge") if a.id in KB_ARTICLES])
    yield store
    store.drop()


@pytest_asyncio.fixture
async def kb_editor(
    console_app: FastAPI,
    platform: ConsolePlatform,
    kb_base_store: ChromaKnowledgeStore,
    kb_encoder: object,
    repo_dir: Path,
) -> AsyncIterator[EditorService]:
    """A real editor service (Chroma snapshot, the test database, the golden questions that
    concern these articles), set as the app's ``kb_editor``."""
    from knowledge.gaps import GapLog
    from knowledge.golden import load_golden
    from knowledge.golden_store import GoldenStore
    from knowledge.markdown import load_articles
    from knowledge.repository import ArticleRepository
    from knowledge.service import KnowledgeBase

    store = kb_base_store.snapshot_sync()
    golden = [
        q
        for q in load_golden(repo_dir / "data" / "knowledge_tests.yml")
        if q.language == "en" and (not q.expect or set(q.expect) & set(KB_ARTICLES))
    ]
    kb = KnowledgeBase(store, gaps=GapLog(platform.store.engine))
    golden_set = GoldenStore(platform.store.engine)  # the database's table, seeded as at start-up
    await golden_set.seed(golden)
    editor = EditorService(
        ArticleRepository(platform.store.engine), kb, golden_set, languages={"en", "pl", "uk"}
    )
    await editor.import_articles(
        [a for a in load_articles(repo_dir / "data" / "knowledge") if a.id in KB_ARTICLES], "ingest"
    )
    console_app.state.kb_editor = editor
    try:
        yield editor
    finally:
        store.drop()


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port in this event loop, without its
    lifespan (no bot engine is built); yields the base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # pytest owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bot trained once per session (:func:`train_demo`); its model directory."""
    return train_demo(tmp_path_factory.getbasetemp())


@pytest.fixture
async def services(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    """The real demo bot's services (engine, knowledge base, handoff) with its own database; offline."""
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "workspace_chroma")
    async with demo_services(demo_settings(model_dir, tmp_path)) as built:
        yield built


@pytest.fixture
def engine(services: Services) -> Engine:
    """The demo bot's engine (of :func:`services`)."""
    return services.engine
