"""A priority a rule sets (``set_priority``) ranks the console's queue ahead of the handoff
priority (tier, SLA, sentiment), and the queue shows it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from automation.service import build_runner
from automation.tables import automation_firings, conversation_labels
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


ONE_HANDOFF = """
rules:
  - id: prices_urgent_on_handoff
    name: price questions jump the queue
    on: handed_off
    if: {intent: [ask_prices]}
    then: [{set_priority: urgent}, {tag: prices}]
  - id: prices_urgent_before_handoff
    name: a price question marks the conversation urgent while the bot still talks
    on: message_received
    if: {intent: [ask_prices]}
    then: [{set_priority: urgent}]
"""


async def _labels(store: EventStore, cid: str) -> dict[str, str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(conversation_labels.c.label, conversation_labels.c.value).where(
                conversation_labels.c.conversation_id == cid
            )
        )
        return {row.label: row.value for row in rows}


async def _ranked(queue: QueueBuilder, at: float) -> list[tuple[str, str | None]]:
    return [(e.conversation_id, e.rule_priority) for e in (await queue.build(at)).entries]


async def test_a_rules_priority_ends_with_its_handoff(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    """Urgent on one handoff; resolved (or returned to the bot) the next handoff of the same
    conversation starts without it. No rule watches resolved or returned_to_bot."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(ONE_HANDOFF.split("  - id: prices_urgent_before")[0], "utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        queue = QueueBuilder(runtime)
        for cid in ("widget:resolved", "widget:returned"):
            await write(store, cid, "Standard", OPEN, intent="ask_prices")
            await runtime.service.request(cid, "client_request")
        await write(store, "widget:std", "Standard", OPEN, intent="complaint")
        await runtime.service.request("widget:std", "client_request")
        assert await runner.run_once(assign=False) == 2
        assert (await _ranked(queue, OPEN + 10))[:2] == [
            ("widget:resolved", "urgent"),
            ("widget:returned", "urgent"),
        ]

        clock.now = OPEN + 600
        await runtime.service.claim("widget:resolved", "anna.kowalska")
        await runtime.service.resolve("widget:resolved", "anna.kowalska")
        await runtime.service.return_to_bot("widget:returned", "olena")  # from the queue
        assert await _labels(store, "widget:resolved") == {"tag:prices": "1"}  # a tag stays
        assert await _labels(store, "widget:returned") == {"tag:prices": "1"}
        await runner.run_once(assign=False)  # the end rows are skipped: no rule watches them

        # weeks later, the same clients hand off again with an ordinary question
        clock.now = OPEN + 21 * 86400
        await runtime.service.return_to_bot("widget:resolved", "bot")  # resolved -> bot
        for cid in ("widget:resolved", "widget:returned"):
            await write(store, cid, "Standard", clock.now, intent="complaint")
            await runtime.service.request(cid, "client_request")
        await runner.run_once(assign=False)
        ranked = await _ranked(queue, clock.now + 10)
        assert sorted(ranked) == [("widget:resolved", None), ("widget:returned", None), ("widget:std", None)]
        assert ranked[0] == ("widget:std", None)  # queued first, weeks ago: nobody jumps it now
        await runner.stop()
    finally:
        await store.close()


async def test_a_priority_set_before_the_handoff_counts_for_it_and_survives_a_rebuild(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    """A rule on message_received sets the priority while the bot talks; the handoff that
    follows ranks by it, the one after does not; replaying the log keeps the open one's."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(ONE_HANDOFF, "utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        queue = QueueBuilder(runtime)
        await write(store, "widget:std", "Standard", OPEN, intent="complaint")
        await runtime.service.request("widget:std", "client_request")
        await write(store, "widget:early", "Standard", OPEN, intent="ask_prices")
        assert await runner.run_once(assign=False) == 1  # message_received: still with the bot
        assert await _labels(store, "widget:early") == {"priority": "urgent"}

        clock.now = OPEN + 60
        await runtime.service.request("widget:early", "client_request")  # then it hands off
        await runner.run_once(assign=False)
        assert await _ranked(queue, clock.now + 10) == [("widget:early", "urgent"), ("widget:std", None)]

        clock.now = OPEN + 600
        await runtime.service.claim("widget:early", "anna.kowalska")
        await runtime.service.resolve("widget:early", "anna.kowalska")
        assert await _labels(store, "widget:early") == {"tag:prices": "1"}

        # the next handoff: urgent again only because a new price question says so
        clock.now = OPEN + 7 * 86400
        await runtime.service.return_to_bot("widget:early", "bot")
        await write(store, "widget:early", "Standard", clock.now, intent="ask_prices")
        await runtime.service.request("widget:early", "client_request")
        await runner.run_once(assign=False)
        assert await _labels(store, "widget:early") == {"priority": "urgent", "tag:prices": "1"}

        # a rebuild replays every end in the log: the open handoff's priority stays
        await store.rebuild_projections()
        assert (await _labels(store, "widget:early"))["priority"] == "urgent"
        assert (await _ranked(queue, clock.now + 10))[0] == ("widget:early", "urgent")
        await runner.stop()
    finally:
        await store.close()


async def test_a_late_round_does_not_set_the_priority_of_an_ended_handoff(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    """The runner reaches a handed_off row after that handoff ended: the priority is not set,
    so it cannot rank the client's next handoff."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(ONE_HANDOFF.split("  - id: prices_urgent_before")[0], "utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        await write(store, "widget:quick", "Standard", OPEN, intent="ask_prices")
        await runtime.service.request("widget:quick", "client_request")
        clock.now = OPEN + 30
        await runtime.service.return_to_bot("widget:quick", "olena")  # before any round
        assert await runner.run_once(assign=False) == 1
        assert await _labels(store, "widget:quick") == {"tag:prices": "1"}
        async with store.engine.connect() as conn:
            results = (await conn.execute(select(automation_firings.c.results))).scalar_one()
        assert {"kind": "set_priority", "ok": True} == {k: results[0][k] for k in ("kind", "ok")}
        assert results[0]["detail"] == "not set: that handoff has ended"
        await runner.stop()
    finally:
        await store.close()
