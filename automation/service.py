"""Wiring automation for a running bot: the rules file, the repository, the runner.

The serving app starts one runner per process (:func:`start_automation`, called from the
console's lifespan like the retention job); the inbox projector and the priority expiry
are registered by the composition root on every store that appends (:func:`register_inbox`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from automation.actions import Mailer, RuleActions
from automation.dry_run import DryRunReport, dry_run
from automation.inbox import AutomationInbox
from automation.labels import PriorityExpiry
from automation.repository import FILE_NAME, AuditWriter, RulesRepository
from automation.rules import RuleSet
from automation.runner import DEFAULT_POLL, AutomationRunner
from bot.channels.email.config import EmailConfig, SmtpConfig
from bot.store.event_store import EventStore
from handoff.runtime import HandoffRuntime


def register_inbox(store: EventStore) -> None:
    """Queue rule triggers in every append of ``store``, and end a rule's priority with its
    handoff (:mod:`automation.labels`); once per store."""
    for projector in (AutomationInbox(), PriorityExpiry()):
        if all(p.name != projector.name for p in store.projectors):
            store.add_projector(projector)


def channel_smtp(section: Mapping[str, Any] | None) -> SmtpConfig | None:
    """The e-mail channel's SMTP relay from its ``credentials.yml`` section (None: no usable one)."""
    if not section:
        return None
    try:
        return EmailConfig.model_validate(dict(section)).smtp
    except ValidationError:
        return None


def build_runner(
    store: EventStore,
    runtime: HandoffRuntime,
    audit: AuditWriter,
    *,
    project_dir: Path,
    smtp: SmtpConfig | None = None,
    mailer: Mailer | None = None,
    secrets: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
    poll: float = DEFAULT_POLL,
    name: str = "runner",
    http: httpx.AsyncClient | None = None,
    channels: Mapping[str, Any] | None = None,
    wake: Callable[[], None] | None = None,
) -> AutomationRunner:
    """A runner (not started) for the project's rules on ``store``; replies go out through
    ``channels`` (the app's adapters by name) and ``wake`` the outbox worker."""
    register_inbox(store)
    repository = RulesRepository(store.engine, project_dir / FILE_NAME)
    actions = RuleActions(
        runtime,
        http=http or httpx.AsyncClient(),
        mailer=mailer,
        channel_smtp=smtp,
        secrets=secrets if secrets is not None else os.environ,
        clock=clock,
        channels=channels,
        wake=wake,
    )
    return AutomationRunner(store, runtime, repository, actions, audit, clock=clock, poll=poll, name=name)


async def dry_run_for(
    store: EventStore, runtime: HandoffRuntime, rules: RuleSet, *, now: float, since: float | None = None
) -> DryRunReport:
    """:func:`automation.dry_run.dry_run` with the runtime's config and clients."""
    return await dry_run(store, rules, runtime.config, runtime.client_for, now=now, since=since)
