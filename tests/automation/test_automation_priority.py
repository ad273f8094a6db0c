"""A priority a rule sets (``set_priority``) ranks the console's queue ahead of the handoff
priority (tier, SLA, sentiment), and the queue shows it."""

from __future__ import annotations

from pathlib import Path

from automation.service import build_runner
from bot.store import EventStore
from console.audit import AuditLog
from console.services.workspace.queue import QueueBuilder
from handoff.state import HandoffStatus
from tests.automation.automation_support import Clock, runtime_on
from tests.automation.test_automation_runner import ALEKSANDRA, OPEN, write

JAMES = "whatsapp:+48793455021"  # demo VIP by override

RULES = """
rules:
  - id: prices_urgent
    name: price questions jump the queue
    on: handed_off
    if: {intent: [ask_prices]}
    then: [{set_priority: urgent}]
  - id: hours_low
    name: opening hours can wait
    on: handed_off
    if: {intent: [ask_hours]}
    then: [{set_priority: low}]
  - id: held_high
    name: a held conversation marked high stays with the held ones
    on: handed_off
    if: {intent: [greet]}
    then: [{set_priority: high}]
"""


async def test_a_rules_priority_ranks_the_queue_first_and_is_shown(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(RULES, encoding="utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        queue = QueueBuilder(runtime)
        for cid, tier, intent in (
            (ALEKSANDRA, "VIP", "complaint"),
            (JAMES, "VIP", "ask_hours"),
            ("widget:std", "Standard", "complaint"),
            ("widget:prices", "Standard", "ask_prices"),
            ("widget:held", "Standard", "greet"),
        ):
            await write(store, cid, tier, OPEN, intent=intent)
            await runtime.service.request(cid, "client_request")
        await runtime.service.claim("widget:held", "anna.kowalska")

        before = (await queue.build(OPEN + 10)).entries
        assert [(e.conversation_id, e.tier) for e in before] == [
            (ALEKSANDRA, "VIP"),  # the VIPs first, by the handoff priority
            (JAMES, "VIP"),
            ("widget:prices", "Standard"),
            ("widget:std", "Standard"),
            ("widget:held", "Standard"),
        ]
        assert all(e.rule_priority is None for e in before)

        assert await runner.run_once(assign=False) == 3
        after = (await queue.build(OPEN + 10)).entries
        assert [(e.conversation_id, e.rule_priority) for e in after] == [
            ("widget:prices", "urgent"),  # a Standard question, first because a rule said so
            (ALEKSANDRA, None),
            ("widget:std", None),
            (JAMES, "low"),  # a VIP, last of the waiting ones
            ("widget:held", "high"),  # held conversations stay after the waiting ones
        ]
        assert after[1].priority > after[0].priority  # the handoff priority alone would not do it
        assert after[0].explanation.startswith("rule priority urgent; Standard")
        assert after[4].status == HandoffStatus.ASSIGNED
        await runner.stop()
    finally:
        await store.close()
