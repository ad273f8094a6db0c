"""A rule's ``reply``: the client gets it on their own channel through the real outbox (the
WhatsApp Cloud API stand-in), free text inside the 24-hour window, the approved template
outside it, nothing without one; the line is in the conversation's log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from automation.rules import RulesInvalid, parse_rules
from automation.service import build_runner
from bot.channels.outbox import Outbox
from bot.channels.outbox_projection import OutboxProjector
from bot.channels.whatsapp_cloud import CloudTemplate, CloudWhatsAppChannel, CloudWhatsAppConfig
from bot.events import BotUttered, SlotSet
from bot.store import EventStore
from console.audit import AuditFilter, AuditLog
from handoff.recognition import CLIENT_SLOT, RECOGNISED
from handoff.tables import clients
from tests.automation.automation_support import Clock, runtime_on
from tests.automation.test_automation_runner import OPEN, complaint
from tests.bot.channels.helpers import serving
from tests.bot.channels.standins.whatsapp_cloud import CloudApiStandIn
from tests.proactive.proactive_support import FAST, PHONE_ID, TOKEN, StoreHistory

DAY = 86_400
FOLLOW_UP = CloudTemplate(name="concierge_follow_up_v1", language="pl", parameters=["{first_name}", "{tier}"])

RULES = """
stale_after_seconds: 200000
rules:
  - id: vip_complaint_reply
    name: VIP complaint is answered at once
    on: message_received
    if: {tier: [VIP], intent: [complaint]}
    then:
      - reply: {text: "Dear {first_name}, your {tier} concierge has your message and writes shortly."}
  - id: follow_up_after_resolution
    name: follow-up after an agent resolved it
    on: resolved
    if: {tier: [VIP]}
    then:
      - reply: {text: "Thank you, {first_name}. Anything else, just write.", template: concierge_follow_up}
  - id: standard_thanks
    name: thanks, no template
    on: resolved
    if: {tier: [Standard]}
    then:
      - reply: {text: "Thank you for writing to us."}
"""


@asynccontextmanager
async def whatsapp(
    store: EventStore, clock: Clock
) -> AsyncIterator[tuple[CloudWhatsAppChannel, Outbox, CloudApiStandIn]]:
    """WhatsApp Cloud on ``store`` through the real outbox, one template configured."""
    meta = CloudApiStandIn(TOKEN, PHONE_ID)
    async with serving(meta.app) as url:
        config = CloudWhatsAppConfig(
            phone_number_id=PHONE_ID,
            access_token=TOKEN,
            app_secret="meta-app-secret-for-tests",
            verify_token="verify-token-for-tests",
            api_base_url=url,
            templates={"concierge_follow_up": FOLLOW_UP},
        )
        channel = CloudWhatsAppChannel(config)
        channel.handler = StoreHistory(store)  # type: ignore[assignment]
        channel.clock = lambda: datetime.fromtimestamp(clock.now, UTC)
        OutboxProjector.install(store, {channel.name: channel})
        outbox = Outbox(store.engine, FAST)
        channel.attach(outbox)
        await outbox.start()
        try:
            yield channel, outbox, meta
        finally:
            await outbox.stop()
            await channel.close()


def test_a_reply_names_only_known_placeholders() -> None:
    with pytest.raises(RulesInvalid, match=r"unknown placeholder.*last_name"):
        parse_rules("rules: [{id: a, name: a, on: resolved, then: [{reply: {text: 'Hi {last_name}'}}]}]")
    with pytest.raises(RulesInvalid, match="at most 1000"):
        parse_rules(f"rules: [{{id: a, name: a, on: resolved, then: [{{reply: {{text: '{'x' * 1001}'}}}}]}}]")
    parse_rules("rules: [{id: a, name: a, on: resolved, then: [{reply: {text: 'braces {{ok}}'}}]}]")


async def test_a_rules_reply_reaches_the_client_as_text_in_the_window_and_as_the_template_outside(
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
        await runtime.set_agent_status("anna.kowalska", "online")
        async with store.engine.connect() as conn:
            aleksandra = (
                await conn.execute(select(clients.c.id).where(clients.c.external_id == "MH-0001"))
            ).scalar_one()
        async with whatsapp(store, clock) as (channel, outbox, meta):
            runner = build_runner(
                store,
                runtime,
                AuditLog(store.engine),
                project_dir=project,
                clock=clock,
                channels={channel.name: channel},
                wake=outbox.wake,
            )
            assert outbox.addresses is not None
            vip = await outbox.addresses.remember(channel.name, "48601234567")
            standard = await outbox.addresses.remember(channel.name, "48512776430")
            recognised = SlotSet(name=CLIENT_SLOT, value=aleksandra, metadata=RECOGNISED, timestamp=OPEN)
            await store.append(
                vip, [recognised, SlotSet(name="tier", value="VIP", timestamp=OPEN), complaint(OPEN)]
            )
            await store.append(
                standard, [SlotSet(name="tier", value="Standard", timestamp=OPEN), complaint(OPEN)]
            )
            widget = "widget:v-reply"  # the widget's client reads the log: the stored line is the delivery
            await store.append(
                widget, [recognised, SlotSet(name="tier", value="VIP", timestamp=OPEN), complaint(OPEN)]
            )

            assert await runner.run_once(assign=False) == 2  # the VIP on WhatsApp and on the widget
            await outbox.drain(within=30)
            (first,) = meta.delivered
            assert first["type"] == "text"  # she wrote a moment ago: free text
            assert first["text"]["body"] == (
                "Dear Aleksandra, your VIP concierge has your message and writes shortly."
            )
            widget_lines = [e for e in await store.events(widget) if isinstance(e, BotUttered)]
            assert [(e.text, e.metadata["automation_rule"]) for e in widget_lines] == [
                (first["text"]["body"], "vip_complaint_reply")
            ]

            # an agent resolves both WhatsApp conversations 25 hours later: the window is closed
            clock.now = OPEN + DAY + 3600
            for cid in (vip, standard):
                await runtime.service.request(cid, "client_request")
                await runtime.service.claim(cid, "anna.kowalska")
                await runtime.service.resolve(cid, "anna.kowalska")
            assert await runner.run_once(assign=False) == 2
            await outbox.drain(within=30)
            assert len(meta.delivered) == 2  # the template; the Standard thanks had none: not sent
            template = meta.delivered[1]
            assert template["type"] == "template"
            assert template["template"]["name"] == "concierge_follow_up_v1"
            values = [p["text"] for p in template["template"]["components"][0]["parameters"]]
            assert values == ["Aleksandra", "VIP"]

            vip_lines = [e for e in await store.events(vip) if isinstance(e, BotUttered)]
            assert [e.metadata.get("automation_rule") for e in vip_lines] == [
                "vip_complaint_reply",
                "follow_up_after_resolution",
            ]
            assert vip_lines[1].text == "Thank you, Aleksandra. Anything else, just write."
            assert not [e for e in await store.events(standard) if isinstance(e, BotUttered)]

            entries, _ = await AuditLog(store.engine).entries(AuditFilter(action="automation.rule_fired"))
            results = {e.detail["rule"]: e.detail["results"][0] for e in entries}
            assert results["follow_up_after_resolution"]["detail"] == (
                "replied: queued on whatsapp_cloud as the approved template"
            )
            assert results["standard_thanks"]["ok"] is False
            assert "outside the 24-hour window" in results["standard_thanks"]["detail"]
            assert all("Aleksandra" not in str(e.detail) for e in entries)  # no personal data audited
            await runner.stop()
    finally:
        await store.close()
