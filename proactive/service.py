"""Wiring the proactive scheduler into a running bot.

The composition root registers the projector on every store that appends
(:func:`register_proactive`: reminders scheduled, stops recorded and sends marked in each
append's transaction, whichever process writes). The serving app starts one
:class:`ProactiveLoop` per process (:func:`start_proactive`): every ``poll_seconds`` it sends
what is due (rows are claimed once across processes) and, once per studio day, schedules
the birthday greetings under a :class:`~bot.leases.RoundLease` (their unique keys make a
second pass harmless anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.channels.base import PushChannel
from bot.leases import RoundLease
from bot.periodic import Periodic
from bot.store.event_store import EventStore
from handoff.config import TierConfig
from proactive.birthdays import schedule_birthdays
from proactive.config import ProactiveConfig, load_config
from proactive.schedule import ProactiveProjector
from proactive.sender import LOG_READING_CHANNELS, ProactiveSender, utc_now

log = logging.getLogger(__name__)


def register_proactive(store: EventStore, project_dir: Path) -> ProactiveConfig:
    """Install the proactive projector on ``store`` (once) with the project's ``proactive.yml``."""
    config = load_config(project_dir)
    if all(p.name != ProactiveProjector.name for p in store.projectors):
        store.add_projector(ProactiveProjector(config))
    return config


class ProactiveLoop:
    """This process's sender and daily birthday pass (see the module docstring)."""

    def __init__(
        self,
        store: EventStore,
        config: ProactiveConfig,
        channels: Mapping[str, Any],
        tiers: TierConfig | None,
        *,
        clock: Callable[[], datetime] = utc_now,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.tiers = tiers
        self.clock = clock
        self.channels = channels
        self.sender = ProactiveSender(store, config, channels, clock=clock, wake=wake)
        self.birthdays = RoundLease(store.engine, "proactive-birthdays")
        self.birthdays_done: date | None = None
        self._loop = Periodic("proactive sender", self.tick, config.poll_seconds, logger=log)

    async def tick(self) -> None:
        """One round: today's birthdays (once a day), then every due message."""
        today = self.clock().astimezone(self.config.zone).date()
        if self.tiers is not None and self.birthdays_done != today:
            async with self.birthdays.round() as mine:
                if mine:
                    pushing = {n for n, c in self.channels.items() if isinstance(c, PushChannel)}
                    await schedule_birthdays(
                        self.store.engine,
                        self.config,
                        self.tiers,
                        today,
                        channels=pushing | LOG_READING_CHANNELS,
                        now=self.clock(),
                    )
            self.birthdays_done = today
        await self.sender.run_round()

    def start(self) -> ProactiveLoop:
        """Start the loop in the background."""
        self._loop.start()
        return self

    async def stop(self) -> None:
        """Stop the loop (a round in flight is cancelled; its claims run out and are retried)."""
        await self._loop.stop()


def start_proactive(
    store: EventStore,
    project_dir: Path,
    channels: Mapping[str, Any],
    tiers: TierConfig | None,
    *,
    wake: Callable[[], None] | None = None,
) -> ProactiveLoop:
    """This process's proactive loop on the project's ``proactive.yml``, started."""
    config = register_proactive(store, project_dir)
    return ProactiveLoop(store, config, channels, tiers, wake=wake).start()
