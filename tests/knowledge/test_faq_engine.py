"""FAQ answers through the engine: the demo bot (trained from this repository) answers FAQ
questions from the knowledge articles, an editor's published change is what it says next,
and a response-selector guess retrieval does not back is not said."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

REPO = Path(__file__).resolve().parents[2]
LATE = "what happens if I'm 15 minutes late?"


@pytest.fixture(scope="module")
def faq_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bot.agent import Agent

    model_dir = tmp_path_factory.mktemp("faq_model") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        Agent.load_or_train(REPO, model_dir)
    return model_dir


@pytest_asyncio.fixture
async def services(faq_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async for built in build(REPO, faq_model, tmp_path, monkeypatch):
        yield built


async def build(
    project: Path, model: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """The demo's services (SQLite file, embedded Chroma), as ``concierge run`` wires them."""
    from bot.settings import Settings
    from concierge.compose import build_services

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CONCIERGE_BOOKINGS_URL", f"sqlite:///{state / 'bookings.db'}")
    built = await build_services(Settings(project_dir=project, model_dir=model, state_dir=state))
    try:
        yield built
    finally:
        await built.engine.close()


async def chat(services: Any, sender: str, text: str) -> str:
    from bot.models import InboundMessage

    replies = await services.engine.handle(InboundMessage(channel="test", sender_id=sender, text=text))
    return "\n".join(r.text or "" for r in replies)


async def test_an_faq_answer_is_the_article_and_an_editors_change_is_what_the_bot_says_next(
    services: Any,
) -> None:
    await check_faq_answers_follow_the_editor(services)


async def test_a_guess_retrieval_does_not_back_is_not_said(services: Any) -> None:
    await check_unbacked_guess(services)


async def check_faq_answers_follow_the_editor(services: Any) -> None:
    before = await chat(services, "ewa", LATE)
    assert "15-minute grace period" in before and before.endswith("Source: Arriving late to an appointment")
    editor = services.knowledge.editor
    live = (await editor.repository.version("lateness-policy", 1)).article
    added = " Running late? Just send us a message in this chat."
    await editor.update(
        "lateness-policy", live.model_copy(update={"answer": (live.answer or "") + added}), "anna"
    )
    await editor.publish("lateness-policy", "anna")
    after = await chat(services, "ola", LATE)
    assert added.strip() in after and "15-minute grace period" in after
    polish = await chat(services, "jan", "Spóźnię się 10 minut, co teraz?")
    assert "15 minut tolerancji" in polish and "Źródło: Spóźnienie na wizytę" in polish


async def check_unbacked_guess(services: Any) -> None:
    dog = await chat(services, "kim", "can I bring my dog?")
    # the selector guesses faq/what_to_bring; the pets article is what retrieval finds
    assert "Pets are not allowed" in dog and "first visit" not in dog.lower()
    gaps = await services.knowledge.gaps.report()
    dog_gap = next(g for g in gaps if g.question == "can I bring my dog?")
    assert dog_gap.reasons == {"low_confidence": 1} and "faq/what_to_bring" in dog_gap.tried[0]
