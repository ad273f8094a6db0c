"""Suggested replies drafted by an LLM when one is configured: llama.cpp serving SmolLM2-135M.

The tiny model checks the plumbing (the workspace asks the knowledge base, which asks the
LLM with the retrieved passages and keeps only a cited draft), not the quality of its prose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.security.models import ConsoleUser
from console.services.workspace import Workspace, load_canned_replies
from tests.console.workspace_support import (
    REPO,
    demo_services,
    demo_settings,
    offline,
    say,
    session_id,
    train_demo,
)
from tests.knowledge.test_llm import start_server, stop

ANNA = ConsoleUser(
    id=1, username="anna.kowalska", display_name="Anna Kowalska", role="agent", agent_id="anna.kowalska"
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_demo(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_server(tmp_path_factory.mktemp("workspace_llm") / "server.log")
    yield url
    stop(process)


async def test_the_suggested_reply_is_an_llm_draft_citing_the_articles(
    model_dir: Path,
    llm_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "workspace_chroma")
    for key, value in {
        "CONCIERGE_KB_LLM_BASE_URL": llm_url,
        "CONCIERGE_KB_LLM_MODEL": "smollm2",
        "CONCIERGE_KB_LLM_STRUCTURED": "true",
        "CONCIERGE_KB_LLM_TIMEOUT": "120",
    }.items():
        monkeypatch.setenv(key, value)
    async with demo_services(demo_settings(model_dir, tmp_path)) as services:
        engine = services.engine
        assert services.knowledge is not None and services.knowledge.llm_client is not None
        workspace = Workspace(services, {}, load_canned_replies(REPO / "data" / "canned_replies.yml"))
        try:
            sender = session_id()
            await say(engine, sender, "I want to talk to a person please")
            found = await workspace.views.suggestions(
                f"widget:{sender}", "what happens if I'm 15 minutes late?"
            )
            assert found.reply_mode == "llm", found
            assert found.reply and "[1]" in found.reply and found.reply_sources
            assert found.reply_sources[0] in {p.title for p in found.passages}
        finally:
            await workspace.close()
