"""The console's side of automation: the serving process's rule runner, and the rules
repository the rules page reads and saves through (audited with the console's audit log)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.repository import FILE_NAME, RulesRepository
from automation.runner import AutomationRunner
from automation.service import build_runner, channel_smtp
from bot.channels.credentials import Credentials
from bot.channels.outbox import Outbox
from bot.settings import Settings
from console.audit import AuditLog
from console.running import AppServices


def start_automation(
    settings: Settings,
    services: AppServices,
    credentials: Credentials,
    channels: Mapping[str, Any] | None = None,
    outbox: Outbox | None = None,
) -> AutomationRunner | None:
    """This process's rule runner, started (None without handoff: nothing to act on). Every
    serving process runs one; the firings table lets one of them fire each rule per event.
    Rules' replies go out through the app's ``channels`` and ``outbox``."""
    runtime = services.handoff
    if runtime is None:
        return None
    store = services.engine.store
    return build_runner(
        store,
        runtime,
        AuditLog(store.engine),
        project_dir=settings.project_dir,
        smtp=channel_smtp(credentials.section("email")),
        clock=runtime.clock,
        channels=channels,
        wake=outbox.wake if outbox is not None else None,
    ).start()


def rules_repository(settings: Settings, services: AppServices) -> RulesRepository:
    """The rule set in force and its versions, on the running bot's database."""
    assert services.handoff is not None  # the routes answer 409 before asking without handoff
    return RulesRepository(services.handoff.store.engine, Path(settings.project_dir) / FILE_NAME)
