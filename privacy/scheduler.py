"""The server's retention job: a background task in every process, a run in only one.

Every serving process wakes up every ``min(interval, 1 h)`` and asks for a run;
:meth:`PrivacyService.scheduled_retention` takes the cross-process lease and skips when
any process ran within the configured interval (the audit log's last
``privacy.retention`` entry is the shared clock), so the database sees one run per
interval however many processes serve. The first attempt waits ``first_run_minutes``
after start-up, so a restart loop does not hammer the database.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.periodic import cancel_and_wait
from bot.settings import Settings
from privacy.service import PrivacyService

log = logging.getLogger(__name__)

MAX_WAKE_SECONDS = 3600.0


class RetentionScheduler:
    """Runs :meth:`PrivacyService.scheduled_retention` in the background until stopped."""

    def __init__(self, service: PrivacyService) -> None:
        self.service = service
        self._task: asyncio.Task[None] | None = None

    def start(self) -> RetentionScheduler:
        """Start the background task (on the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="privacy-retention")
        return self

    async def _loop(self) -> None:
        config = self.service.config
        await asyncio.sleep(config.first_run_minutes * 60)
        wake = min(config.interval_hours * 3600, MAX_WAKE_SECONDS)
        while True:
            try:
                report = await self.service.scheduled_retention()
                if report.ran:
                    total = sum(report.removed.values())
                    log.info(
                        "retention: %d conversation(s) and %d profile(s) past their TTL, %d erase "
                        "request(s) resumed, %d row(s)/file(s) removed: %s",
                        report.conversations,
                        report.profiles,
                        report.resumed,
                        total,
                        report.removed,
                    )
            except Exception:  # the next wake-up tries again; the server keeps serving
                log.exception("retention run failed")
            await asyncio.sleep(wake)

    async def stop(self) -> None:
        """Cancel the task and wait for it (a run in progress is rolled back)."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None


def start_retention(settings: Settings, engine: AsyncEngine) -> RetentionScheduler:
    """The serving process's retention job on ``engine`` (the event store's), started."""
    return RetentionScheduler(PrivacyService.for_settings(settings, engine)).start()
