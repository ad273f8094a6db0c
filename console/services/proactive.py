"""The serving process's proactive loop (:mod:`proactive.service`), started by the app's lifespan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.channels.outbox import Outbox
from bot.settings import Settings
from console.running import AppServices
from proactive.service import ProactiveLoop, start_proactive


def start_app_proactive(
    settings: Settings, services: AppServices, channels: Mapping[str, Any], outbox: Outbox | None
) -> ProactiveLoop:
    """Reminders, greetings and follow-ups sent through the app's channels; every serving
    process runs one (rows are claimed once across processes)."""
    runtime = services.handoff
    return start_proactive(
        services.engine.store,
        settings.project_dir,
        channels,
        runtime.config.tiers if runtime is not None else None,
        wake=outbox.wake if outbox is not None else None,
    )
