"""One rule runner in its own process (the two-process test starts two of these).

Usage: python runner_process.py URL SCHEMA PROJECT_DIR REPO_DIR NOW ROUNDS; prints how many
rules fired through this process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from automation.service import build_runner
from bot.store import EventStore
from console.audit import AuditLog
from handoff.presence import InMemoryPresence
from tests.automation.automation_support import Clock, runtime_on


async def main(url: str, schema: str, project: Path, repo: Path, now: float, rounds: int) -> int:
    store = EventStore.from_url(url, schema=schema)
    try:
        clock = Clock(now)
        presence = InMemoryPresence()
        runtime = await runtime_on(store, repo, clock, presence)
        await runtime.set_agent_status("anna.kowalska", "online")
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        fired = 0
        for _ in range(rounds):
            fired += await runner.run_once(assign=False)
        await runner.stop()
        return fired
    finally:
        await store.close()


if __name__ == "__main__":
    url, schema, project, repo, now, rounds = sys.argv[1:7]
    print(asyncio.run(main(url, schema, Path(project), Path(repo), float(now), int(rounds))))
