"""Unanswered messages are answered in the background, never twice, and a poison message is
parked with a reason instead of being retried forever. The real engine on the small test bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.models import InboundMessage
from bot.recovery import PARKED, RecoveryLoop, already_answered
from bot.settings import Settings
from bot.store.tables import inbound_messages
from tests.bot.channels.helpers import HOURS, real_engine, table_missing, train_widget_bot


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return train_widget_bot(tmp_path_factory.getbasetemp())


@pytest.fixture
async def engine(trained: Settings, tmp_path: Path) -> AsyncIterator[Engine]:
    async with real_engine(trained, tmp_path) as engine:
        yield engine


def message(sender: str, text: str = "when are you open", message_id: str | None = None) -> InboundMessage:
    return InboundMessage(channel="test", sender_id=sender, text=text, message_id=message_id or f"{sender}-1")


async def journal(engine: Engine, stored: InboundMessage) -> tuple[str, str | None]:
    query = select(inbound_messages.c.status, inbound_messages.c.error).where(
        inbound_messages.c.message_id == stored.message_id
    )
    async with engine.store.engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return row.status, row.error


async def test_a_sweep_answers_what_a_crash_left_unanswered_once(engine: Engine) -> None:
    stored = message("ivy")
    assert await engine.receive(stored)  # stored and acknowledged, then the process died
    recovery = RecoveryLoop(engine)
    assert await recovery.sweep() == 0  # too fresh: its own turn may still be on the way
    assert await recovery.sweep(min_age=0) == 1
    assert [h.text for h in await engine.history("test:ivy")] == ["when are you open", HOURS]
    assert await recovery.sweep(min_age=0) == 0
    assert await journal(engine, stored) == ("processed", None)


async def test_a_message_whose_turn_already_committed_is_not_run_again(engine: Engine) -> None:
    stored = message("jon")
    assert await engine.receive(stored)
    assert not await already_answered(engine.store, stored)
    first = await engine.process(stored)
    assert [r.text for r in first] == [HOURS]
    assert await already_answered(engine.store, stored)
    assert await engine.process(stored) == []  # a second process (or a sweep) arrives late
    assert [h.text for h in await engine.history("test:jon")] == ["when are you open", HOURS]


async def test_a_message_failing_again_and_again_is_parked_with_a_reason(engine: Engine) -> None:
    stored = message("kim")
    assert await engine.receive(stored)
    recovery = RecoveryLoop(engine, max_attempts=3)
    async with table_missing(engine, "events"):  # every turn of this message now fails to commit
        for _ in range(3):
            assert await recovery.sweep(min_age=0) == 0
    status, error = await journal(engine, stored)
    assert status == "failed" and error is not None and error.startswith(f"{PARKED}: 3 attempts failed")
    assert recovery.parked == 1
    assert await recovery.sweep(min_age=0) == 0  # never retried again
    assert await engine.history("test:kim") == []
