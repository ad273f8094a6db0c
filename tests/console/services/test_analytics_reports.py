"""Scheduled analytics reports against a real local SMTP server (aiosmtpd): the daily and
weekly e-mails arrive once with the right figures and the period's CSV, two processes
running the round at once send each period once, a refused send is retried next round;
the subscriptions API; ROI with its formula."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import email
import email.policy
import io
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from bot.channels.email.config import SmtpConfig
from bot.channels.email.smtp import SmtpSender
from bot.store import EventStore
from console.security.models import Role
from console.security.platform import ConsolePlatform
from console.services.analytics import DateRange, analytics_report
from console.services.analytics.roi import roi_of
from console.services.analytics.scheduled import (
    ReportScheduler,
    SubscriptionCreate,
    SubscriptionRepository,
    due_period,
    email_relay,
    start_reports,
)
from console.services.analytics.settings import AnalyticsConfig, RoiConfig
from handoff.config import HandoffConfig
from handoff.projections import register_handoff_projections
from tests.bot.channels.email_servers import RecordingHandler, running_smtp
from tests.console.conftest import client_for, sign_in
from tests.console.services.analytics_log import DAY, NOW, write_day
from tests.database_support import BACKENDS, Database, scratch_database

SENDER = "reports@mariia-hub.test"
CONFIG = HandoffConfig()
SATURDAY_MORNING = dt.datetime(2026, 4, 11, 6, tzinfo=dt.UTC)  # the day after DAY (a Friday)
MONDAY_MORNING = dt.datetime(2026, 4, 13, 6, tzinfo=dt.UTC)  # the week of DAY is over


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, RecordingHandler]]:
    with running_smtp() as server:
        yield server


async def opened(database: Path | Database) -> EventStore:
    """A migrated store with the handoff read models, on a SQLite file or a test's database."""
    store = await (Database(f"sqlite:///{database}") if isinstance(database, Path) else database).migrated()
    await register_handoff_projections(store)
    return store


def scheduler(store: EventStore, controller: Controller, now: dt.datetime) -> ReportScheduler:
    relay = SmtpSender(SmtpConfig(host="127.0.0.1", port=controller.port, starttls=False))
    return ReportScheduler(
        store, relay, sender=SENDER, handoff_config=CONFIG, config=AnalyticsConfig(), clock=lambda: now
    )


def parsed(raw: bytes) -> tuple[EmailMessage, str, list[dict[str, str]]]:
    """The message, its HTML part and its CSV attachment's rows."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    (attachment,) = list(message.iter_attachments())
    rows = list(csv.DictReader(io.StringIO(attachment.get_content())))
    return message, html_part.get_content(), rows


def test_due_periods_are_yesterday_and_the_last_whole_iso_week() -> None:
    assert due_period("daily", SATURDAY_MORNING) == ("2026-04-10", DateRange(start=DAY, end=DAY))
    key, span = due_period("weekly", MONDAY_MORNING)
    assert (key, span.start, span.end) == ("2026-W15", dt.date(2026, 4, 6), dt.date(2026, 4, 12))
    # on Sunday the week is not over yet: the one before is due
    assert due_period("weekly", dt.datetime(2026, 4, 12, 23, tzinfo=dt.UTC))[0] == "2026-W14"


@pytest.fixture(params=BACKENDS)
async def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[EventStore, EventStore]]:
    """Two stores on one database, as two serving processes have (SQLite: the flock lease;
    PostgreSQL: the advisory-lock lease)."""
    async with scratch_database(request.param, tmp_path, postgres_url, "test_reports") as database:
        yield await opened(database), await opened(database)


async def test_the_daily_report_arrives_once_with_its_figures_and_csv(
    two_processes: tuple[EventStore, EventStore], smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, handler = smtp
    first, second = two_processes
    try:
        await write_day(first)
        subs = SubscriptionRepository(first)
        made = await subs.add(
            SubscriptionCreate(email="Kasia@Mariia-Hub.test", frequency="daily"), "kasia", SATURDAY_MORNING
        )
        assert not isinstance(made, str) and made.email == "kasia@mariia-hub.test"
        duplicate = await subs.add(
            SubscriptionCreate(email="kasia@mariia-hub.test", frequency="daily"), "kasia", SATURDAY_MORNING
        )
        assert duplicate == "kasia@mariia-hub.test already gets the daily report"

        # both processes run the round at the same moment: the period goes out once
        sent = await asyncio.gather(
            scheduler(first, controller, SATURDAY_MORNING).run_round(),
            scheduler(second, controller, SATURDAY_MORNING).run_round(),
        )
        assert sorted(sent) == [0, 1]
        (received,) = handler.received
        assert (received.mail_from, received.rcpt_tos) == (SENDER, ["kasia@mariia-hub.test"])
        message, html, rows = parsed(received.data)
        assert message["Subject"] == "Concierge daily report 2026-04-10"
        assert "<th align='left'>Containment</th><td>31% (4 of 13)</td>" in html
        assert "<th align='left'>Handoffs to a person</th><td>5</td>" in html
        assert "<tr><td>VIP</td><td>2</td><td>20 s</td><td>100%</td></tr>" in html
        assert "<th align='left'>First human response within SLA</th><td>40% (2 of 5)</td>" in html
        assert len(rows) == 13
        outcomes = sorted(r["outcome"] for r in rows)
        assert outcomes.count("contained") == 4 and outcomes.count("resolved") == 2
        assert {r["conversation_id"]: r["first_human_response_seconds"] for r in rows}[
            "telegram:1001"
        ] == "200"

        # the next round, in either process, has nothing new to send
        assert await scheduler(second, controller, SATURDAY_MORNING).run_round() == 0
        assert len(handler.received) == 1
        (stored,) = await subs.all()
        assert (stored.last_period, stored.last_error) == ("2026-04-10", None)
    finally:
        await first.close()
        await second.close()


async def test_a_refused_weekly_report_is_sent_at_the_next_round(
    tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, handler = smtp
    store = await opened(tmp_path / "w.db")
    try:
        await write_day(store)
        subs = SubscriptionRepository(store)
        await subs.add(
            SubscriptionCreate(email="boss@mariia-hub.test", frequency="weekly"), "kasia", MONDAY_MORNING
        )
        handler.fail_next = 1  # 451: try again later
        assert await scheduler(store, controller, MONDAY_MORNING).run_round() == 0
        (failed,) = await subs.all()
        assert failed.last_period is None and failed.last_error and "451" in failed.last_error
        assert await scheduler(store, controller, MONDAY_MORNING).run_round() == 1
        (received,) = handler.received
        message, html, rows = parsed(received.data)
        assert message["Subject"] == "Concierge weekly report 2026-W15"
        assert "2026-04-06 to 2026-04-12 (UTC)" in html and len(rows) == 13
        assert (await subs.all())[0].last_period == "2026-W15"
    finally:
        await store.close()


async def test_roi_counts_durable_bot_resolutions_only(tmp_path: Path) -> None:
    store = await opened(tmp_path / "r.db")
    try:
        await write_day(store)
        report = await analytics_report(store, DateRange(start=DAY, end=DAY), CONFIG, now=NOW)
        roi = roi_of(
            report, RoiConfig(cost_per_agent_hour=60, cost_per_conversation=0.5, minutes_per_conversation=6)
        )
        # 4 contained x 6 min = 0.4 h -> 24.00; 13 conversations x 0.50 = 6.50; net 17.50
        assert (roi.contained, roi.hours_saved, roi.gross_saving, roi.bot_cost, roi.net_saving) == (
            4,
            0.4,
            24.0,
            6.5,
            17.5,
        )
        assert "hours saved = contained × minutes per conversation ÷ 60" in roi.formula
    finally:
        await store.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_managers_subscribe_and_unsubscribe(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    async with client_for(console_app) as client:
        csrf = await sign_in(client, role_users["manager"])
        headers = {"X-CSRF-Token": csrf}
        made = await client.post(
            "/api/analytics/subscriptions",
            json={"email": "kasia@mariia-hub.test", "frequency": "weekly"},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        again = await client.post(
            "/api/analytics/subscriptions",
            json={"email": "kasia@mariia-hub.test", "frequency": "weekly"},
            headers=headers,
        )
        assert again.status_code == 409
        bad = await client.post(
            "/api/analytics/subscriptions", json={"email": "not an address"}, headers=headers
        )
        assert bad.status_code == 422
        listed = (await client.get("/api/analytics/subscriptions")).json()
        assert [(s["email"], s["frequency"], s["created_by"]) for s in listed] == [
            ("kasia@mariia-hub.test", "weekly", role_users["manager"])
        ]
        gone = await client.delete(f"/api/analytics/subscriptions/{made.json()['id']}", headers=headers)
        assert gone.status_code == 200 and (await client.get("/api/analytics/subscriptions")).json() == []
        assert (await client.delete("/api/analytics/subscriptions/99", headers=headers)).status_code == 404


async def test_the_serving_loop_sends_through_the_email_channels_relay(
    tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, handler = smtp
    assert email_relay(None) is None and email_relay({"address": "x"}) is None  # no usable channel
    store = await opened(tmp_path / "loop.db")
    try:
        await SubscriptionRepository(store).add(
            SubscriptionCreate(email="kasia@mariia-hub.test", frequency="daily"), "kasia", SATURDAY_MORNING
        )
        section = {
            "address": "hello@mariia-hub.test",
            "smtp": {"host": "127.0.0.1", "port": controller.port, "starttls": False},
            "inbound_webhook": {"username": "parse", "password": "a-long-enough-secret"},
        }
        loop = start_reports(store, CONFIG, AnalyticsConfig(), section)
        assert loop is not None
        try:
            for _ in range(600):  # the first round runs at once
                if handler.received:
                    break
                await asyncio.sleep(0.05)
        finally:
            await loop.stop()
        (received,) = handler.received
        yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
        message, _, rows = parsed(received.data)
        assert message["Subject"] == f"Concierge daily report {yesterday}" and rows == []
        assert received.mail_from == "hello@mariia-hub.test"  # the channel's own address
    finally:
        await store.close()
