"""Test support for the agent workspace: the demo bot (this repository) trained once per
session, the real engine over it (SQLite, or PostgreSQL in a throwaway schema), and the
clients and messages the tests use.

The knowledge base's Chroma index is shared by the session (``CONCIERGE_KB_CHROMA_PATH``), so
only the first engine embeds the articles; every engine still has its own event database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.agent import Agent
from bot.engine import Engine
from bot.events import Event
from bot.models import InboundMessage, OutboundMessage, VerifiedIdentity
from bot.settings import Settings
from bot.store.database import async_url, scratch_schema
from concierge.compose import Services, build_services
from handoff.config import load_handoff_config
from handoff.hours import is_open

REPO = Path(__file__).resolve().parents[2]
VIP_EMAIL = "ola.wisniewska@example.pl"  # Aleksandra Wiśniewska, black membership: VIP (data/clients.csv)
VIP_NAME = "Aleksandra Wiśniewska"
STANDARD_EMAIL = "hannah.brooks@example.com"  # Hannah Brooks, Standard
COMPLAINT = "I'm really disappointed with my visit, my gel nails chipped after two days"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def offline(monkeypatch: pytest.MonkeyPatch, chroma: Path) -> None:
    """No downloads; the session's shared Chroma index."""
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CONCIERGE_KB_CHROMA_PATH", str(chroma))


def train_demo(root: Path) -> Path:
    """The demo bot trained under ``root`` once per session (later calls load it); its model dir."""
    model_dir = root / "mariia_workspace_model"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in OFFLINE.items():
            patch.setenv(key, value)
        Agent.load_or_train(REPO, model_dir)
    return model_dir


def demo_settings(model_dir: Path, state_dir: Path, **extra: object) -> Settings:
    """Settings of the demo project over the trained model, with its own state directory."""
    return Settings(project_dir=REPO, model_dir=model_dir, state_dir=state_dir, **extra)  # type: ignore[arg-type]


@asynccontextmanager
async def postgres_schema(postgres_url: str) -> AsyncIterator[str]:
    """A throwaway PostgreSQL schema; yields a database URL that uses it."""
    async with scratch_schema(postgres_url, "test_workspace") as schema:
        yield async_url(postgres_url, schema=schema).render_as_string(hide_password=False)


def studios_open_clock() -> Callable[[], float]:
    """The wall clock, moved back (by whole hours, at most two days) to the latest moment every
    demo studio is open, so a walk through the console tests a handoff the same way at 3 pm and
    at midnight; out-of-hours behaviour has its own tests with their own clocks. The engine, the
    handoff and the console's queue all read this one clock, so SLA countdowns stay coherent."""
    studios = load_handoff_config(REPO / "handoff.yml").locations.values()
    now = time.time()
    for hours_back in range(49):
        moment = datetime.fromtimestamp(now - hours_back * 3600, UTC)
        if all(is_open(studio, moment) for studio in studios):
            shift = hours_back * 3600
            return lambda: time.time() - shift
    raise AssertionError("no moment in the last two days had every demo studio open")


@asynccontextmanager
async def demo_services(settings: Settings) -> AsyncIterator[Services]:
    """The real services of the demo bot (engine, knowledge base and handoff), on a clock at
    which the studios are open (:func:`studios_open_clock`)."""
    services = await build_services(settings, clock=studios_open_clock())
    try:
        assert services.handoff is not None, "the demo project has handoff data"
        yield services
    finally:
        await services.close()


@asynccontextmanager
async def demo_engine(settings: Settings) -> AsyncIterator[Engine]:
    """The real engine of the demo bot (knowledge base and handoff included)."""
    async with demo_services(settings) as services:
        yield services.engine


def session_id() -> str:
    """A fresh widget session id."""
    return uuid.uuid4().hex[:16]


async def say(
    engine: Engine, sender: str, text: str, *, email: str | None = None, channel: str = "widget"
) -> list[OutboundMessage]:
    """A client message through the engine (``email``: what a verified widget token proves)."""
    proven = [VerifiedIdentity(kind="email", value=email, proof="site_token")] if email else []
    return await engine.handle(
        InboundMessage(channel=channel, sender_id=sender, text=text, identities=proven)
    )


async def events_of(engine: Engine, conversation_id: str) -> list[Event]:
    """The conversation's stored events."""
    return await engine.store.events(conversation_id)
