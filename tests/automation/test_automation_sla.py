"""``sla_about_to_breach``: a rule fires within its lead before the tier's first-response
deadline, once per queue entry across runners, never after a person replied, never late."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from automation.rules import RulesInvalid, parse_rules
from automation.service import build_runner, dry_run_for
from automation.tables import automation_firings, automation_inbox, conversation_labels
from bot.events import BotUttered
from bot.store import EventStore
from console.audit import AuditFilter, AuditLog
from tests.automation.automation_support import Clock, runtime_on
from tests.automation.test_automation_runner import OPEN, write

RULES = """
rules:
  - id: vip_warning
    name: VIP about to wait too long
    on: sla_about_to_breach
    within_seconds: 20
    if: {tier: [VIP]}
    then:
      - tag: sla-warning
      - set_priority: urgent
  - id: any_warning
    name: anyone half a minute from the deadline
    on: sla_about_to_breach
    within_seconds: 30
    then:
      - tag: sla-soon
"""


def test_within_seconds_is_required_on_the_warning_and_refused_elsewhere() -> None:
    with pytest.raises(RulesInvalid, match="needs within_seconds"):
        parse_rules("rules: [{id: a, name: a, on: sla_about_to_breach, then: [{tag: x}]}]")
    with pytest.raises(RulesInvalid, match="sla_about_to_breach only"):
        parse_rules("rules: [{id: a, name: a, on: sla_breached, within_seconds: 10, then: [{tag: x}]}]")
    with pytest.raises(RulesInvalid, match="greater than 0"):
        parse_rules("rules: [{id: a, name: a, on: sla_about_to_breach, within_seconds: 0, then: [{tag: x}]}]")


async def test_sla_about_to_breach_fires_once_within_its_lead_across_two_runners(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(RULES, encoding="utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    # two engines on one database, as two serving processes have
    stores = [EventStore.from_url(url, schema=schema) for _ in range(2)]
    try:
        runtimes = [await runtime_on(s, repo_dir, clock) for s in stores]
        runners = [
            build_runner(s, r, AuditLog(s.engine), project_dir=project, clock=clock, name=f"p{i}")
            for i, (s, r) in enumerate(zip(stores, runtimes, strict=True))
        ]
        service = runtimes[0].service

        async def both() -> int:
            return sum(await asyncio.gather(*(r.run_once(assign=False) for r in runners)))

        # VIP first-response SLA 60 s, Standard 300 s; all queued at OPEN
        for cid, tier in (("widget:late", "VIP"), ("widget:answered", "VIP"), ("widget:std", "Standard")):
            await write(stores[0], cid, tier, OPEN)
            await service.request(cid, "client_request")
        await service.claim("widget:answered", "anna.kowalska")

        clock.now = OPEN + 29  # any_warning's lead begins at OPEN + 30 for the VIPs
        assert await both() == 0
        clock.now = OPEN + 31
        assert await both() == 2  # late and answered, each once although both runners saw them
        assert await both() == 0
        reply = BotUttered(
            text="I'm here", metadata={"sender": "agent", "agent_id": "anna.kowalska"}, timestamp=OPEN + 35
        )
        await stores[1].append("widget:answered", [reply])
        clock.now = OPEN + 41  # vip_warning's lead (20 s) began at OPEN + 40
        assert await both() == 1  # only the unanswered VIP
        clock.now = OPEN + 61  # the deadline passed: the VIP rows are closed, nothing more
        assert await both() == 0

        clock.now = OPEN + 200  # a VIP queued now whose warning no runner sees before its deadline
        await write(stores[0], "widget:missed", "VIP", OPEN + 200)
        await service.request("widget:missed", "client_request")
        clock.now = OPEN + 271  # Standard: 300 - 30; the missed VIP's deadline (OPEN + 260) is past
        assert await both() == 1
        assert await both() == 0

        async with stores[0].engine.connect() as conn:
            fired = (
                await conn.execute(select(automation_firings.c.rule_id, automation_firings.c.conversation_id))
            ).all()
            labels = (
                await conn.execute(
                    select(conversation_labels.c.label, conversation_labels.c.value).where(
                        conversation_labels.c.conversation_id == "widget:late"
                    )
                )
            ).all()
            open_watches = (
                await conn.execute(
                    select(automation_inbox.c.conversation_id).where(
                        automation_inbox.c.trigger == "sla_about_to_breach",
                        automation_inbox.c.done.is_(False),
                    )
                )
            ).all()
        assert sorted(fired) == [
            ("any_warning", "widget:answered"),
            ("any_warning", "widget:late"),
            ("any_warning", "widget:std"),
            ("vip_warning", "widget:late"),
        ]
        assert sorted(labels) == [("priority", "urgent"), ("tag:sla-soon", "1"), ("tag:sla-warning", "1")]
        assert open_watches == [("widget:std",)]  # open until its own deadline, then closed
        _, audited = await AuditLog(stores[0].engine).entries(AuditFilter(action="automation.rule_fired"))
        assert audited == 4

        # the dry run assumes a runner that never missed a round: the missed VIP counts there
        rules = parse_rules(RULES)
        report = await dry_run_for(stores[0], runtimes[0], rules, now=OPEN + 271)
        counts = {c.rule_id: (c.fired, c.conversations) for c in report.rules}
        assert counts == {"vip_warning": (2, 2), "any_warning": (4, 4)}
        for runner in runners:
            await runner.stop()
    finally:
        for s in stores:
            await s.close()


async def test_a_vip_queued_behind_many_watches_is_still_warned_within_its_lead(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    """Each queued conversation keeps two SLA watches open until its deadline; a round that
    read only the oldest hundred rows never reached a VIP queued after fifty Standard clients
    (300 s SLA) before the VIP's own deadline (60 s)."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(RULES, encoding="utf-8")
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(
            store, runtime, AuditLog(store.engine), project_dir=project, clock=clock, name="p0"
        )
        waiting = [f"widget:standard-{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(55)]
        for cid in waiting:
            await write(store, cid, "Standard", OPEN)
            await runtime.service.request(cid, "client_request")
        await write(store, "widget:vip", "VIP", OPEN + 1)
        await runtime.service.request("widget:vip", "client_request")
        async with store.engine.connect() as conn:
            watches = (
                await conn.execute(
                    select(automation_inbox.c.id).where(automation_inbox.c.due_at.is_not(None))
                )
            ).all()
        assert len(watches) == 2 * 56  # more than one page of the runner's reads

        clock.now = OPEN + 1 + 60 - 20 + 1  # inside vip_warning's 20 s lead, the Standard ones far off
        await runner.run_once(assign=False)
        async with store.engine.connect() as conn:
            fired = (
                await conn.execute(select(automation_firings.c.rule_id, automation_firings.c.conversation_id))
            ).all()
        assert sorted(fired) == [("any_warning", "widget:vip"), ("vip_warning", "widget:vip")]
        await runner.stop()
    finally:
        await store.close()
