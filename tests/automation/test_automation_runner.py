"""Rules fire once per event across runners, are audited, and reach a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from automation.rules import parse_rules
from automation.service import build_runner, dry_run_for
from automation.tables import automation_firings
from bot.events import BotUttered, IntentPrediction, ParseData, SentimentScore, SlotSet, UserUttered
from bot.store import EventStore
from console.audit import AuditFilter, AuditLog
from handoff.presence import InMemoryPresence
from handoff.state import HandoffStatus
from tests.automation.automation_support import Clock, Mailbox, runtime_on

OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("Europe/Warsaw")).timestamp()  # Tuesday, open
ALEKSANDRA = "whatsapp:+48601234567"  # demo VIP (black membership), concierge anna.kowalska
HANNAH = "whatsapp:+48512776430"  # demo Standard client
MANAGER = "olena@mariia-hub.test"


def rules_file(project: Path, smtp_port: int) -> Path:
    project.mkdir(exist_ok=True)
    path = project / "automation.yml"
    path.write_text(
        f"""
managers: {{olena: {MANAGER}}}
email: {{sender: concierge@mariia-hub.test, host: 127.0.0.1, port: {smtp_port}, starttls: false}}
rules:
  - id: vip_complaint_concierge
    name: VIP complaint goes to the concierge and the manager hears of it
    on: message_received
    if: {{tier: [VIP], intent: [complaint]}}
    then:
      - assign: {{agent: concierge}}
      - tag: complaint
      - notify_email: {{to: olena, subject: "VIP complaint: {{rule}}"}}
""",
        encoding="utf-8",
    )
    return project


def complaint(at: float, intent: str = "complaint") -> UserUttered:
    return UserUttered(
        text="My nails lifted after two days, this is unacceptable",
        parse_data=ParseData(
            text="...",
            intent=IntentPrediction(name=intent, confidence=0.9),
            sentiment=SentimentScore(score=-0.8, label="negative"),
        ),
        timestamp=at,
    )


async def write(
    store: EventStore, conversation_id: str, tier: str, at: float, intent: str = "complaint"
) -> None:
    await store.append(
        conversation_id, [SlotSet(name="tier", value=tier, timestamp=at), complaint(at, intent)]
    )


async def test_vip_complaint_fires_once_is_audited_and_mails_the_manager(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path, smtp: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        await runtime.set_agent_status("anna.kowalska", "online")
        audit = AuditLog(store.engine)
        runner = build_runner(
            store, runtime, audit, project_dir=rules_file(tmp_path / "p", port), clock=clock
        )
        await write(store, ALEKSANDRA, "VIP", OPEN)
        await write(store, HANNAH, "Standard", OPEN)  # a Standard complaint: no rule

        assert await runner.run_once() == 1
        assert await runner.run_once() == 0  # the same event never fires twice
        held = await runtime.service.ticket(ALEKSANDRA)
        assert (held.status, held.assigned_to) == (HandoffStatus.ASSIGNED, "anna.kowalska")
        assert await runtime.service.status(HANNAH) == HandoffStatus.BOT

        (sent,) = mailbox.received
        assert sent[1] == [MANAGER]
        mail = email.message_from_bytes(sent[2], policy=email.policy.default)
        assert (
            mail["Subject"]
            == "VIP complaint: VIP complaint goes to the concierge and the manager hears of it"
        )
        body = mail.get_content()
        assert "Tier: VIP; intent: complaint" in body
        assert "unacceptable" not in body  # the client's words stay in the console

        entries, total = await audit.entries(AuditFilter(action="automation.rule_fired"))
        assert total == 1
        assert entries[0].target == f"conversation:{ALEKSANDRA}"
        assert entries[0].detail["rule"] == "vip_complaint_concierge"
        assert [r["ok"] for r in entries[0].detail["results"]] == [True, True, True]
        await runner.stop()
    finally:
        await store.close()


@pytest.mark.postgres
async def test_two_runners_on_one_postgresql_store_fire_it_once(
    postgres_url: str, repo_dir: Path, tmp_path: Path, smtp: tuple[int, Mailbox]
) -> None:
    """Two runners, each with its own engine (connection pool), clock and runtime, as two
    processes would have, evaluate the same inbox at the same time."""
    from bot.store import scratch_schema

    port, mailbox = smtp
    project = rules_file(tmp_path / "p", port)
    clock = Clock(OPEN)
    presence = InMemoryPresence()  # shared, as Redis presence is between processes
    async with scratch_schema(postgres_url, "test_automation_two") as schema:
        stores = [EventStore.from_url(postgres_url, schema=schema) for _ in range(2)]
        try:
            await stores[0].migrate()
            runtimes = [await runtime_on(s, repo_dir, clock, presence) for s in stores]
            await runtimes[0].set_agent_status("anna.kowalska", "online")
            runners = [
                build_runner(s, r, AuditLog(s.engine), project_dir=project, clock=clock, name=f"p{i}")
                for i, (s, r) in enumerate(zip(stores, runtimes, strict=True))
            ]
            for i in range(5):  # five VIP complaints, each from its own conversation
                await write(stores[i % 2], f"whatsapp:+4860123456{i}", "VIP", OPEN + i)
            results = await asyncio.gather(*(r.run_once(assign=False) for r in runners))
            results += await asyncio.gather(*(r.run_once(assign=False) for r in runners))
            assert sum(results) == 5
            async with stores[0].engine.connect() as conn:
                rows = (await conn.execute(select(automation_firings.c.conversation_id))).scalars().all()
            assert sorted(rows) == sorted(f"whatsapp:+4860123456{i}" for i in range(5))
            assert len(mailbox.received) == 5  # one e-mail per firing, never two
            _, total = await AuditLog(stores[0].engine).entries(AuditFilter(action="automation.rule_fired"))
            assert total == 5
            for runner in runners:
                await runner.stop()
        finally:
            for s in stores:
                await s.close()


async def test_dry_run_counts_what_would_have_fired(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        # the seeded log: 3 VIP complaints (one conversation complains twice), 2 Standard
        # complaints, 2 VIP questions
        await write(store, "widget:v1", "VIP", OPEN)
        await write(store, "widget:v1", "VIP", OPEN + 60)
        await write(store, "widget:v2", "VIP", OPEN + 5)
        await write(store, "widget:s1", "Standard", OPEN)
        await write(store, "widget:s2", "Standard", OPEN)
        await write(store, "widget:v3", "VIP", OPEN, intent="ask_prices")
        await write(store, "widget:v4", "VIP", OPEN, intent="ask_hours")
        rules = parse_rules(rules_file(tmp_path / "p", 25).joinpath("automation.yml").read_text())
        report = await dry_run_for(store, runtime, rules, now=OPEN + 3600)
        (count,) = report.rules
        assert (count.rule_id, count.fired, count.conversations) == ("vip_complaint_concierge", 3, 2)
        assert report.conversations == 6
        assert await runtime.service.status("widget:v1") == HandoffStatus.BOT  # nothing ran
    finally:
        await store.close()


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver on loopback: keeps each request's headers and body."""

    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


async def test_sla_breach_fires_once_after_the_deadline_and_signs_its_webhook(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got.clear()
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(
        f"""
rules:
  - id: vip_sla
    name: VIP waited too long
    on: sla_breached
    if: {{tier: [VIP]}}
    then:
      - tag: sla-missed
      - webhook: {{url: "http://127.0.0.1:{server.server_port}/hook", secret_env: HOOK_SECRET}}
""",
        encoding="utf-8",
    )
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(
            store,
            runtime,
            AuditLog(store.engine),
            project_dir=project,
            clock=clock,
            secrets={"HOOK_SECRET": "s3cret"},
        )
        for cid in ("widget:late", "widget:answered"):
            await write(store, cid, "VIP", OPEN)
            await runtime.service.request(cid, "client_request")
        await runtime.service.claim("widget:answered", "anna.kowalska")
        reply = BotUttered(
            text="I'm here", metadata={"sender": "agent", "agent_id": "anna.kowalska"}, timestamp=OPEN + 20
        )
        await store.append("widget:answered", [reply])

        clock.now = OPEN + 30  # VIP SLA is 60 s: not yet
        assert await runner.run_once(assign=False) == 0
        clock.now = OPEN + 61
        assert await runner.run_once(assign=False) == 1  # only the unanswered one
        assert await runner.run_once(assign=False) == 0
        ((headers, body),) = Receiver.got
        assert json.loads(body)["conversation_id"] == "widget:late"
        expected = hmac.new(
            b"s3cret", headers["X-Concierge-Timestamp"].encode() + b"." + body, hashlib.sha256
        )
        assert headers["X-Concierge-Signature"] == "sha256=" + expected.hexdigest()
        await runner.stop()
    finally:
        server.shutdown()
        server.server_close()
        await store.close()


async def test_rules_that_feed_each_other_stop_at_the_hourly_budget(
    store_url: tuple[str, str | None], repo_dir: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "automation.yml").write_text(
        """
rules:
  - {id: back_to_bot, name: back to the bot, on: handed_off, then: [{return_to_bot: true}]}
  - {id: and_again, name: and off again, on: returned_to_bot, then: [{handoff: {}}]}
""",
        encoding="utf-8",
    )
    url, schema = store_url
    clock = Clock(OPEN)
    store = EventStore.from_url(url, schema=schema)
    try:
        runtime = await runtime_on(store, repo_dir, clock)
        runner = build_runner(store, runtime, AuditLog(store.engine), project_dir=project, clock=clock)
        await write(store, "widget:loop", "Standard", OPEN)
        await runtime.service.request("widget:loop", "client_request")
        fired = 0
        for _ in range(40):
            fired += await runner.run_once(assign=False)
        assert fired == 20  # MAX_FIRINGS_PER_HOUR, then it stops
        assert await runner.run_once(assign=False) == 0
        await runner.stop()
    finally:
        await store.close()


@pytest.mark.postgres
async def test_two_processes_fire_each_complaint_once(
    postgres_url: str, repo_dir: Path, tmp_path: Path, smtp: tuple[int, Mailbox]
) -> None:
    """Two OS processes, each with its own runtime and runner, on one PostgreSQL schema."""
    from bot.store import scratch_schema

    port, mailbox = smtp
    project = rules_file(tmp_path / "p", port)
    async with scratch_schema(postgres_url, "test_automation_procs") as schema:
        store = EventStore.from_url(postgres_url, schema=schema)
        try:
            await store.migrate()
            await runtime_on(store, repo_dir, Clock(OPEN))  # demo clients imported once, before both start
            from automation.service import register_inbox

            register_inbox(store)
            for i in range(6):
                await write(store, f"whatsapp:+4860123457{i}", "VIP", OPEN + i)
            script = Path(__file__).with_name("runner_process.py")
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(script),
                    postgres_url,
                    schema,
                    str(project),
                    str(repo_dir),
                    str(OPEN),
                    "3",
                    cwd=str(repo_dir),
                    env={**os.environ, "PYTHONPATH": str(repo_dir)},
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                for _ in range(2)
            ]
            outputs = [await p.communicate() for p in procs]
            assert all(p.returncode == 0 for p in procs), [err.decode()[-2000:] for _, err in outputs]
            fired = [int(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
            assert sum(fired) == 6, fired
            print(f"two processes fired {fired} of 6 complaints")
            async with store.engine.connect() as conn:
                rows = (await conn.execute(select(automation_firings.c.conversation_id))).scalars().all()
            assert len(rows) == 6 and len(set(rows)) == 6
            assert len(mailbox.received) == 6
        finally:
            await store.close()
