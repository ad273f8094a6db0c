"""Scheduled analytics reports: a manager subscribes to a daily or weekly e-mail (an HTML
summary and the period's per-conversation CSV), sent through the e-mail channel's SMTP relay.

Every serving process runs the same round every few minutes (:class:`bot.periodic.Periodic`);
the cross-process lease
(:class:`bot.leases.RoundLease`) lets one of them do it, and each subscription's
``last_period`` says which period it last got, so a period goes out once however many
processes serve and however often they restart. A send that fails leaves ``last_period``
as it was (and the error in ``last_error``): the next round tries again.

Periods are whole UTC days: a daily report covers yesterday, a weekly one the last complete
ISO week (Monday to Sunday), both sent once the period is over.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import and_, delete, insert, or_, select, update

from bot.channels.credentials import Credentials
from bot.channels.email.config import EmailConfig
from bot.channels.email.smtp import SmtpSender
from bot.leases import RoundLease
from bot.periodic import Periodic
from bot.settings import Settings
from bot.store import EventStore
from console.running import AppServices
from console.services.analytics.export import facts_csv
from console.services.analytics.facts import load_fact_rows
from console.services.analytics.models import AnalyticsReport, DateRange
from console.services.analytics.report import compute_report
from console.services.analytics.roi import roi_of
from console.services.analytics.settings import AnalyticsConfig, load_analytics_config
from console.services.analytics.tables import subscriptions
from handoff.config import HandoffConfig

log = logging.getLogger(__name__)

Frequency = Literal["daily", "weekly"]
LEASE = "analytics-scheduled-reports"
#: how often every process asks whether a report is due
ROUND_SECONDS = 300.0
MAX_SUBSCRIPTIONS = 200


class Mailer(Protocol):
    """Sends one e-mail (:class:`bot.channels.email.smtp.SmtpSender` is one)."""

    async def send(self, mail: EmailMessage, *, sender: str, recipients: list[str]) -> None: ...


class SubscriptionCreate(BaseModel):
    """A new subscription (API body)."""

    email: str = Field(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$", max_length=254)
    frequency: Frequency = "weekly"


class Subscription(SubscriptionCreate):
    """A stored subscription."""

    id: int
    created_by: str
    created_at: dt.datetime
    last_period: str | None = None
    last_sent_at: dt.datetime | None = None
    last_error: str | None = None


def due_period(frequency: Frequency, now: dt.datetime) -> tuple[str, DateRange]:
    """The latest complete period at ``now``: ``("2026-04-10", that day)`` for daily, the last
    whole ISO week (``"2026-W15"``) for weekly."""
    today = now.astimezone(dt.UTC).date()
    if frequency == "daily":
        day = today - dt.timedelta(days=1)
        return day.isoformat(), DateRange(start=day, end=day)
    monday = today - dt.timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}", DateRange(start=monday, end=monday + dt.timedelta(days=6))


class SubscriptionRepository:
    """The ``analytics_subscriptions`` rows."""

    def __init__(self, store: EventStore) -> None:
        self.db = store.engine

    async def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        async with self.db.connect() as conn:
            rows = (await conn.execute(select(subscriptions).order_by(subscriptions.c.id))).all()
        return [Subscription.model_validate(dict(r._mapping)) for r in rows]

    async def add(self, new: SubscriptionCreate, created_by: str, now: dt.datetime) -> Subscription | str:
        """Store ``new``; a message instead when it exists already or the list is full."""
        email = new.email.strip().lower()
        async with self.db.begin() as conn:
            count = len((await conn.execute(select(subscriptions.c.id))).all())
            if count >= MAX_SUBSCRIPTIONS:
                return f"at most {MAX_SUBSCRIPTIONS} subscriptions"
            same = and_(subscriptions.c.email == email, subscriptions.c.frequency == new.frequency)
            if (await conn.execute(select(subscriptions.c.id).where(same))).first() is not None:
                return f"{email} already gets the {new.frequency} report"
            values = {"email": email, "frequency": new.frequency, "created_by": created_by, "created_at": now}
            result = await conn.execute(insert(subscriptions).values(**values))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return Subscription(id=int(new_id or 0), **values)  # type: ignore[arg-type]

    async def remove(self, subscription_id: int) -> Subscription | None:
        """Delete one; the deleted row, or None when there was none."""
        async with self.db.begin() as conn:
            found = (
                await conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
            ).first()
            if found is None:
                return None
            await conn.execute(delete(subscriptions).where(subscriptions.c.id == subscription_id))
        return Subscription.model_validate(dict(found._mapping))

    async def mark(self, subscription_id: int, period: str, now: dt.datetime, error: str | None) -> bool:
        """Record a send (``error`` None) or a failure; True when this call moved the period."""
        async with self.db.begin() as conn:
            if error is not None:
                await conn.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id == subscription_id)
                    .values(last_error=error)
                )
                return False
            not_yet = or_(subscriptions.c.last_period.is_(None), subscriptions.c.last_period != period)
            moved = await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id, not_yet)
                .values(last_period=period, last_sent_at=now, last_error=None)
            )
        return bool(moved.rowcount)


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{round(rate * 100)}%"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{round(value)} s" if value < 120 else f"{value / 60:.1f} min"


def summary_rows(report: AnalyticsReport) -> list[tuple[str, str]]:
    """The headline figures of a report, in words (the mail's summary table)."""
    t = report.totals
    assert t is not None
    return [
        ("Conversations", f"{t.volume} ({t.rated} rated, greeting-only excluded)"),
        ("Containment", f"{_pct(t.containment_rate)} ({t.contained} of {t.rated})"),
        ("Durable resolution", _pct(t.resolution_rate)),
        ("First-contact resolution", _pct(t.first_contact_resolution_rate)),
        ("Handoffs to a person", str(t.handoffs)),
        ("First human response within SLA", f"{_pct(t.within_sla_rate)} ({t.within_sla} of {t.sla_known})"),
        ("Median first human response", _secs(t.first_response_median_seconds)),
        ("CSAT average", "–" if t.csat_average is None else str(t.csat_average)),
    ]


def report_mail(
    report: AnalyticsReport,
    csv_text: str,
    *,
    frequency: Frequency,
    period: str,
    sender: str,
    recipient: str,
    config: AnalyticsConfig,
) -> EmailMessage:
    """The e-mail: a plain-text and an HTML summary, the conversations' CSV attached."""
    rows = summary_rows(report)
    roi = roi_of(report, config.roi)
    rows.append(
        ("Saved by durable bot resolutions", f"{roi.net_saving:.2f} {roi.currency} ({roi.hours_saved:.1f} h)")
    )
    title = f"Concierge {frequency} report {period}"
    span = f"{report.range.start.isoformat()} to {report.range.end.isoformat()} (UTC)"
    mail = EmailMessage()
    mail["Subject"] = title
    mail["From"] = formataddr(("Concierge reports", sender))
    mail["To"] = recipient
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    text = [title, span, ""] + [f"{k}: {v}" for k, v in rows]
    text += ["", "First human response by tier:"]
    text += [
        f"  {t.tier}: {t.handoffs} handoffs, median {_secs(t.median_seconds)}, "
        f"within SLA {_pct(t.within_sla_rate)}"
        for t in report.first_response
    ]
    text += ["", "Outcomes: " + ", ".join(f"{k} {v}" for k, v in report.outcomes.items())]
    mail.set_content("\n".join(text) + "\n")
    e = html.escape
    body = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    tiers = "".join(
        f"<tr><td>{e(t.tier)}</td><td>{t.handoffs}</td><td>{e(_secs(t.median_seconds))}</td>"
        f"<td>{e(_pct(t.within_sla_rate))}</td></tr>"
        for t in report.first_response
    )
    outcomes = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in report.outcomes.items())
    mail.add_alternative(
        f"<!doctype html><html><body><h1>{e(title)}</h1><p>{e(span)}</p>"
        f"<table id='summary'>{body}</table>"
        "<h2>First human response by tier</h2><table id='tiers'><tr><th>Tier</th><th>Handoffs</th>"
        f"<th>Median</th><th>Within SLA</th></tr>{tiers}</table>"
        f"<h2>Outcomes</h2><table id='outcomes'>{outcomes}</table>"
        "<p>Every conversation of the period is in the attached CSV.</p></body></html>",
        subtype="html",
    )
    name = f"conversations-{report.range.start.isoformat()}-{report.range.end.isoformat()}.csv"
    mail.add_attachment(csv_text.encode("utf-8"), maintype="text", subtype="csv", filename=name)
    return mail


class ReportScheduler:
    """Sends the due reports (one round: :meth:`run_round`); see the module docstring."""

    def __init__(
        self,
        store: EventStore,
        mailer: Mailer,
        *,
        sender: str,
        handoff_config: HandoffConfig,
        config: AnalyticsConfig,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.sender = sender
        self.handoff_config = handoff_config
        self.config = config
        self.clock = clock
        self.repository = SubscriptionRepository(store)
        self.lease = RoundLease(store.engine, LEASE)

    async def run_round(self) -> int:
        """Send every report that is due, if this process holds the round; how many went out."""
        async with self.lease.round() as mine:
            if not mine:
                return 0
            return await self._send_due()

    async def _send_due(self) -> int:
        now = self.clock()
        built: dict[Frequency, tuple[str, AnalyticsReport, str]] = {}
        sent = 0
        for sub in await self.repository.all():
            period, span = due_period(sub.frequency, now)
            if sub.last_period == period:
                continue
            if sub.frequency not in built:
                rows = await load_fact_rows(
                    self.store,
                    span,
                    self.handoff_config,
                    now=now.timestamp(),
                    business_hours=self.config.business_hours,
                )
                report = compute_report(rows, span, self.handoff_config, grouping="day")
                built[sub.frequency] = (period, report, facts_csv(rows))
            _, report, csv_text = built[sub.frequency]
            mail = report_mail(
                report,
                csv_text,
                frequency=sub.frequency,
                period=period,
                sender=self.sender,
                recipient=sub.email,
                config=self.config,
            )
            try:
                await self.mailer.send(mail, sender=self.sender, recipients=[sub.email])
            except Exception as exc:  # the relay may be away: the next round tries again
                log.warning(
                    "analytics report %s to subscription %d failed: %s", period, sub.id, type(exc).__name__
                )
                await self.repository.mark(sub.id, period, now, error=str(exc)[:500])
                continue
            sent += await self.repository.mark(sub.id, period, now, error=None)
        return sent


def email_relay(section: Mapping[str, Any] | None) -> tuple[SmtpSender, str] | None:
    """The e-mail channel's SMTP sender and address from its ``credentials.yml`` section
    (None when the channel is not configured: no relay, no reports)."""
    if not section:
        return None
    try:
        config = EmailConfig.model_validate(dict(section))
    except ValidationError:
        return None
    return SmtpSender(config.smtp), config.address


def start_reports(
    store: EventStore,
    handoff_config: HandoffConfig,
    config: AnalyticsConfig,
    email_section: Mapping[str, Any] | None,
) -> Periodic | None:
    """This process's scheduled-report loop (:class:`bot.periodic.Periodic`), started; None
    when no e-mail channel is set up."""
    relay = email_relay(email_section)
    if relay is None:
        return None
    mailer, sender = relay
    scheduler = ReportScheduler(store, mailer, sender=sender, handoff_config=handoff_config, config=config)
    loop = Periodic("analytics-reports", scheduler.run_round, ROUND_SECONDS, logger=log)
    loop.start()
    return loop


def start_app_reports(settings: Settings, services: AppServices, credentials: Credentials) -> Periodic | None:
    """The serving process's scheduled reports on the running bot's database (None without an
    e-mail channel or without handoff: no relay, or nothing to report on people)."""
    if services.handoff is None:
        return None
    config = load_analytics_config(Path(settings.project_dir) / "handoff.yml")
    return start_reports(services.engine.store, services.handoff.config, config, credentials.section("email"))
