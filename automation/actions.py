"""What a fired rule does: each action through the part of the system that owns it.

Handoff moves (assign, hand off, return to bot) go through the runtime's
:class:`~handoff.service.HandoffService` (the one transition table; an illegal move is
reported, nothing is written); a private note is an ``AgentNoteAdded`` appended through
the conversation writer (lock, append, live push); a reply is a ``BotUttered`` appended the
same way, whose outbox row the outbox projector writes in that append's transaction (after
the channel's own checks: WhatsApp's 24-hour window, an approved template outside it);
tags and priority are rows of ``conversation_labels`` (a priority lasts the handoff it was
set for: :mod:`automation.labels`); an e-mail goes through the e-mail channel's
:class:`~bot.channels.email.smtp.SmtpSender`; a webhook is a POST signed with HMAC-SHA256.
Every action reports an :class:`ActionResult`; a failing action never stops the next one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from automation.context import RuleContext
from automation.inbox import RULE_AUTHOR
from automation.labels import PRIORITY_LABEL, handoff_ends
from automation.rules import BOOKING_PLACEHOLDERS, MAX_REPLY, Action, Rule, RuleSet
from automation.tables import conversation_labels
from bot.channels.addresses import split_conversation_id
from bot.channels.base import PushChannel
from bot.channels.email.config import SmtpConfig
from bot.channels.email.smtp import SmtpSender
from bot.channels.service_window import WA_TEMPLATE, ServiceWindow, fill
from bot.errors import ChannelError, ConciergeError, OutsideWindow
from bot.events import AgentNoteAdded, BotUttered
from bot.redact import conversation_ref
from bot.transcript import outbound_from_bot_event
from handoff.assignment import AgentUnavailable, AutoAssigner, check_target
from handoff.routing import RoutingRequest, route
from handoff.runtime import HandoffRuntime
from handoff.state import HandoffStatus

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Concierge-Signature"
TIMESTAMP_HEADER = "X-Concierge-Timestamp"
WEBHOOK_TIMEOUT = 10.0
#: author of notes rules write; such notes raise no ``note_added`` (a rule cannot feed itself)
AUTHOR_PREFIX = RULE_AUTHOR
#: metadata key of a reply's line: the rule that sent it
RULE_KEY = "automation_rule"
#: channels whose clients read the conversation's log (no outbox): the stored line is the delivery
LOG_READING_CHANNELS = frozenset({"widget"})


class ActionResult(BaseModel):
    """What one action did (``ok`` False: it could not, ``detail`` says why)."""

    kind: str
    ok: bool
    detail: str


class Mailer(Protocol):
    """Sends one e-mail (the e-mail channel's ``SmtpSender`` is one)."""

    async def send(self, mail: EmailMessage, *, sender: str, recipients: list[str]) -> None: ...


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``timestamp.body`` under ``secret`` (what a receiver recomputes)."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def reply_values(rule: Rule, context: RuleContext) -> dict[str, str]:
    """What a reply's placeholders read (``automation.rules.REPLY_PLACEHOLDERS``)."""
    client = context.client
    return {
        **{key: context.booking.get(key, "") for key in sorted(BOOKING_PLACEHOLDERS)},
        "first_name": client.first_name if client else "",
        "tier": context.facts.tier or (client.tier if client else ""),
        "rule": rule.name,
    }


def mailer_for(rules: RuleSet, channel_smtp: SmtpConfig | None) -> Mailer | None:
    """The SMTP sender for notifications: the rule set's relay when it names one, else the
    e-mail channel's (None: no relay configured, e-mail actions report that)."""
    settings = rules.email
    if settings.host:
        return SmtpSender(
            SmtpConfig(host=settings.host, port=settings.port or 25, starttls=settings.starttls)
        )
    return SmtpSender(channel_smtp) if channel_smtp is not None else None


class RuleActions:
    """Runs a rule's actions for one conversation."""

    def __init__(
        self,
        runtime: HandoffRuntime,
        *,
        http: httpx.AsyncClient,
        mailer: Mailer | None = None,
        channel_smtp: SmtpConfig | None = None,
        secrets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        console_url: str = "",
        channels: Mapping[str, Any] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.assigner = AutoAssigner(runtime)
        self.http = http
        self.mailer = mailer  # fixed sender (tests); else built from the rules' relay or the channel's
        self.channel_smtp = channel_smtp
        self.secrets = secrets if secrets is not None else {}
        self.clock = clock
        self.console_url = console_url.rstrip("/")
        self.channels = channels if channels is not None else {}  # the app's adapters by name
        self.wake = wake  # tells the outbox worker a row is waiting

    async def run(self, rule: Rule, rules: RuleSet, context: RuleContext) -> list[ActionResult]:
        """Every action of ``rule`` in order; one's failure is reported and the next still runs."""
        results = []
        for action in rule.then:
            try:
                result = await self._one(action, rule, rules, context)
            except (ConciergeError, httpx.HTTPError, OSError) as exc:
                result = ActionResult(kind=action.kind, ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
            results.append(result)
        return results

    async def _one(self, action: Action, rule: Rule, rules: RuleSet, context: RuleContext) -> ActionResult:
        actor = AUTHOR_PREFIX + rule.id
        cid = context.conversation_id
        service = self.runtime.service
        if action.assign is not None:
            return await self._assign(action, rule, rules, context)
        if action.set_priority is not None:
            if handoff_ends(await self.runtime.store.load(cid, after_seq=context.seq)):
                # a late round: the handoff this event led to has ended, and its priority with
                # it (automation.labels); set now, it would rank the client's next handoff
                return ActionResult(kind="set_priority", ok=True, detail="not set: that handoff has ended")
            await self._label(cid, PRIORITY_LABEL, action.set_priority, actor)
            return ActionResult(kind="set_priority", ok=True, detail=f"priority {action.set_priority}")
        if action.tag is not None:
            await self._label(cid, f"tag:{action.tag}", "1", actor)
            return ActionResult(kind="tag", ok=True, detail=f"tagged {action.tag}")
        if action.note is not None:
            note = AgentNoteAdded(text=action.note.text, author=actor, timestamp=self.clock())
            await self.runtime.writer.append(cid, [note])
            return ActionResult(kind="note", ok=True, detail="private note added")
        if action.reply is not None:
            return await self._reply(action, rule, context)
        if action.notify_email is not None:
            return await self._email(action, rule, rules, context)
        if action.webhook is not None:
            return await self._webhook(action, rule, context)
        if action.handoff is not None:
            if await service.status(cid) != HandoffStatus.BOT:
                return ActionResult(kind="handoff", ok=True, detail="already with a person")
            await service.request(cid, action.handoff.reason or f"rule:{rule.id}", rule.name, actor=actor)
            return ActionResult(kind="handoff", ok=True, detail="handed off to the queue")
        if action.return_to_bot:
            if await service.status(cid) == HandoffStatus.BOT:
                return ActionResult(kind="return_to_bot", ok=True, detail="the bot already has it")
            await service.return_to_bot(cid, actor, f"returned by rule {rule.id}")
            return ActionResult(kind="return_to_bot", ok=True, detail="returned to the bot")
        raise ConciergeError(f"unknown action {action.kind}")  # pragma: no cover - the model forbids it

    async def _assign(self, action: Action, rule: Rule, rules: RuleSet, context: RuleContext) -> ActionResult:
        spec = action.assign
        assert spec is not None
        cid, actor = context.conversation_id, AUTHOR_PREFIX + rule.id
        service = self.runtime.service
        if spec.team is not None:
            target, why = await self._team_pick(rules.teams[spec.team], context)
            if target is None:
                return await self._queue_instead(cid, rule, f"team {spec.team}: {why}")
        elif spec.agent == "concierge":
            target = context.client.concierge_agent_id if context.client else None
            if target is None:
                return await self._queue_instead(cid, rule, "the client has no named concierge")
            why = f"named concierge of the client (rule {rule.id})"
        else:
            target, why = spec.agent, f"rule {rule.id}"
        assert target is not None
        held = await service.ticket(cid)
        if held.status == HandoffStatus.ASSIGNED and held.assigned_to == target:
            return ActionResult(kind="assign", ok=True, detail=f"already with {target}")
        try:
            await check_target(self.runtime, target)
        except AgentUnavailable as exc:
            return await self._queue_instead(cid, rule, f"{target} is {exc.why}")
        if held.status == HandoffStatus.BOT:
            await service.request(cid, f"rule:{rule.id}", rule.name, actor=actor)
        elif held.status == HandoffStatus.ASSIGNED:
            await service.transfer(cid, actor, f"reassigned by rule {rule.id}")
        elif held.status == HandoffStatus.RESOLVED:
            return ActionResult(kind="assign", ok=False, detail="resolved: not reopened by a rule")
        if not await self.assigner.assign(cid, target, why, actor=actor):
            return ActionResult(
                kind="assign", ok=False, detail=f"someone else moved it before {target} got it"
            )
        return ActionResult(kind="assign", ok=True, detail=f"assigned to {target}: {why}")

    async def _queue_instead(self, cid: str, rule: Rule, why: str) -> ActionResult:
        """The fallback of an assignment that cannot happen now: the conversation waits in
        the queue (handed off when the bot had it), where auto-assignment picks it up."""
        if await self.runtime.service.status(cid) == HandoffStatus.BOT:
            await self.runtime.service.request(
                cid, f"rule:{rule.id}", rule.name, actor=AUTHOR_PREFIX + rule.id
            )
        return ActionResult(kind="assign", ok=False, detail=f"not assigned ({why}); waits in the queue")

    async def _team_pick(self, members: list[str], context: RuleContext) -> tuple[str | None, str]:
        states = [s for s in await self.runtime.roster.states() if s.profile.id in members]
        request = RoutingRequest(
            conversation_id=context.conversation_id,
            language=context.facts.language,
            location=context.client.home_location if context.client else None,
        )
        plan = route(request, states, self.runtime.config, datetime.fromtimestamp(self.clock(), UTC))
        return plan.agent_id, plan.explanation

    async def _label(self, cid: str, label: str, value: str, actor: str) -> None:
        engine = self.runtime.store.engine
        insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(conversation_labels).values(
            conversation_id=cid, label=label, value=value, added_by=actor, added_at=self.clock()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[conversation_labels.c.conversation_id, conversation_labels.c.label],
            set_={
                "value": stmt.excluded.value,
                "added_by": stmt.excluded.added_by,
                "added_at": stmt.excluded.added_at,
            },
        )
        async with engine.begin() as conn:
            await conn.execute(stmt)

    async def _reply(self, action: Action, rule: Rule, context: RuleContext) -> ActionResult:
        """The client gets the reply on their own channel (see the module docstring); the
        result names the channel and whether a template went, never the text."""
        spec = action.reply
        assert spec is not None
        cid = context.conversation_id
        channel_name, recipient = split_conversation_id(cid)
        values = reply_values(rule, context)
        line = BotUttered(
            text=fill(spec.text, values)[: MAX_REPLY + 200],  # 200: the placeholders' values
            timestamp=self.clock(),
            metadata={"sender": "bot", RULE_KEY: rule.id},
        )
        how = "stored in the log (the widget reads it)"
        if channel_name not in LOG_READING_CHANNELS:
            channel = self.channels.get(channel_name)
            if not isinstance(channel, PushChannel):
                return ActionResult(
                    kind="reply", ok=False, detail=f"{channel_name} cannot message a client first: not sent"
                )
            message = outbound_from_bot_event(line, channel_name, recipient)
            if spec.template and isinstance(getattr(channel, "window", None), ServiceWindow):
                # outside the 24-hour window the channel sends this approved template instead
                custom = {"template": spec.template, "template_params": values}
                message = message.model_copy(update={"custom": custom})
            try:
                message = await channel.prepare(message)
            except OutsideWindow:
                wanted = (
                    f"no approved template for {spec.template!r}" if spec.template else "no template named"
                )
                return ActionResult(
                    kind="reply", ok=False, detail=f"outside the 24-hour window and {wanted}: not sent"
                )
            if message.custom:  # the outbox row is built from the stored line
                line = line.model_copy(update={"data": {"custom": message.custom}})
            sent_as = "the approved template" if WA_TEMPLATE in (message.custom or {}) else "text"
            how = f"queued on {channel_name} as {sent_as}"
        await self.runtime.writer.append(cid, [line])
        if self.wake is not None:
            self.wake()
        return ActionResult(kind="reply", ok=True, detail=f"replied: {how}")

    async def _email(self, action: Action, rule: Rule, rules: RuleSet, context: RuleContext) -> ActionResult:
        spec = action.notify_email
        assert spec is not None
        mailer = self.mailer if self.mailer is not None else mailer_for(rules, self.channel_smtp)
        if mailer is None:
            return ActionResult(kind="notify_email", ok=False, detail="no SMTP relay configured")
        to = spec.to if "@" in spec.to else rules.managers[spec.to]
        facts = context.facts
        mail = EmailMessage()
        mail["From"] = rules.email.sender
        mail["To"] = to
        mail["Subject"] = spec.subject.replace("{rule}", rule.name)
        link = f"{self.console_url}/console/workspace?conversation={quote(context.conversation_id, safe='')}"
        mail.set_content(
            f"Rule: {rule.name} ({rule.id})\n"
            f"When: {context.trigger} at seq {context.seq}\n"
            f"Conversation: {conversation_ref(context.conversation_id)} "
            f"on {facts.channel or 'an unknown channel'}\n"
            f"Tier: {facts.tier or 'unknown'}; intent: {context.intent or 'none'}; "
            f"language: {facts.language or 'unknown'}\n"
            f"Open it in the console: {link}\n"
        )
        try:
            await mailer.send(mail, sender=rules.email.sender, recipients=[to])
        except ChannelError as exc:
            return ActionResult(kind="notify_email", ok=False, detail=str(exc)[:300])
        return ActionResult(kind="notify_email", ok=True, detail=f"e-mailed {spec.to}")

    async def _webhook(self, action: Action, rule: Rule, context: RuleContext) -> ActionResult:
        spec = action.webhook
        assert spec is not None
        secret = self.secrets.get(spec.secret_env)
        if not secret:
            return ActionResult(
                kind="webhook", ok=False, detail=f"{spec.secret_env} is not set: not sent unsigned"
            )
        body = json.dumps(
            {
                "rule": rule.id,
                "trigger": str(context.trigger),
                "conversation_id": context.conversation_id,
                "seq": context.seq,
                "at": context.at,
                "tier": context.facts.tier,
                "intent": context.intent,
            },
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret.encode(), timestamp, body),
        }
        response = await self.http.post(spec.url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
        ok = 200 <= response.status_code < 300
        return ActionResult(kind="webhook", ok=ok, detail=f"HTTP {response.status_code}")
