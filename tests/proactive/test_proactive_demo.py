"""The demo bot end to end (trained, built by the composition root): a booking made in chat
schedules its two reminders at the studio's local times, and the client's "stop" records
the opt-out that skips them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from actions.mariia_catalog import STUDIO_TZ
from bot.engine import Engine
from bot.models import InboundMessage
from proactive.tables import proactive_messages, proactive_optouts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bot trained once for this module."""
    from bot.agent import Agent

    model_dir = tmp_path_factory.mktemp("proactive_demo_model") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        Agent.load_or_train(REPO, model_dir)
    return model_dir


@pytest.fixture
async def demo_engine(
    demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Engine]:
    from bot.settings import Settings
    from concierge.compose import build_engine

    monkeypatch.setenv("CONCIERGE_BOOKINGS_URL", f"sqlite:///{tmp_path / 'bookings.db'}")
    engine = await build_engine(Settings(project_dir=REPO, model_dir=demo_model, state_dir=tmp_path))
    yield engine
    await engine.close()


async def chat(engine: Engine, text: str) -> list[str]:
    replies = await engine.handle(InboundMessage(channel="test", sender_id="ola", text=text))
    return [r.text or "" for r in replies]


def upcoming_thursday(hour: int) -> datetime:
    today = datetime.now(STUDIO_TZ).date()
    days = (3 - today.weekday()) % 7
    days += 7 if days < 2 else 0
    return datetime.combine(today + timedelta(days=days), time(hour, 0), STUDIO_TZ)


async def test_a_booking_in_chat_schedules_its_reminders_and_stop_records_the_opt_out(
    demo_engine: Engine,
) -> None:
    day = upcoming_thursday(11)
    await chat(demo_engine, "I'd like to book a gel manicure")
    await chat(demo_engine, "Mokotów")
    booked = await chat(demo_engine, f"{day:%-d %B} at 11am")
    assert booked[0].startswith("You're booked!") and "reminder" in booked[0]
    found = re.search(r"MH-\d{5}", booked[0])
    assert found is not None

    engine: Any = demo_engine.store.engine
    async with engine.connect() as conn:
        rows = (await conn.execute(select(proactive_messages).order_by(proactive_messages.c.due_at))).all()
    assert [r.kind for r in rows] == ["appointment_reminder"] * 2
    assert [r.due_at.astimezone(STUDIO_TZ) for r in rows] == [day - timedelta(days=1), day.replace(hour=9)]
    assert {r.params["reference"] for r in rows} == {found.group()}
    assert rows[0].params["when"] in booked[0]  # the same words as the confirmation
    assert rows[0].language == "en" and rows[0].state == "scheduled"

    await chat(demo_engine, "stop")
    async with engine.connect() as conn:
        opted = (await conn.execute(select(proactive_optouts.c.conversation_id))).scalars().all()
    assert opted == [rows[0].conversation_id]
