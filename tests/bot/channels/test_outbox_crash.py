"""``kill -9`` of a real server process while signed Telegram updates stream in, then a restart:
no client goes unanswered, replies keep each conversation's order, and a reply is repeated
only when the kill caught its send in flight (the documented duplicate window: Telegram has
no idempotency key), at most once.

The harness is ``bench/crash.py`` (the benchmark runs 1,000 updates; this runs 120).
"""

from __future__ import annotations

import pytest

from bench.crash import TOKEN, CrashConfig, run_crash
from bot.settings import Settings

from .standins.telegram import TelegramStandIn


@pytest.mark.timeout(600)
@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_kill_9_mid_stream_loses_no_reply_and_keeps_every_conversation_in_order(
    database: str, trained: Settings, postgres_url: str
) -> None:
    config = CrashConfig(
        messages=120,
        conversations=12,
        rate=20.0,
        kill_at=0.5,
        database=database,
        postgres_url=postgres_url,
        lease_seconds=5.0,  # a send cut short is retried after 5 s instead of 30
    )
    report = await run_crash(config, TelegramStandIn(TOKEN), trained_project=trained.project_dir)

    assert report.killed and report.acknowledged_before_kill == 60, report.line()
    # nothing left behind: every message processed, every reply row finished
    assert (report.pending_inbound, report.unfinished_outbox_rows) == (0, 0), report.line()
    assert (report.sent, report.answered, report.lost) == (120, 120, 0), report.line()
    assert report.out_of_order_conversations == 0, report.line()
    # a repeat only for a send the kill caught in flight, and only once each
    assert report.duplicate_replies <= report.rows_attempted_again, report.line()
