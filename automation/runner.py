"""Runs the rules on the inbox, once per (rule, conversation, event seq) across processes.

Every process may run an :class:`AutomationRunner`. A round reads inbox rows not yet done
(oldest first), evaluates the rules of each row's trigger against the conversation as of
that event (:func:`automation.context.context_at`), and for each rule that matches inserts
its firing row; ``automation_firings`` is unique on (rule, conversation, seq), so when two
runners evaluate the same row only the insert that lands runs the actions (at most once:
a crash between the insert and the actions leaves the firing ``running``, never repeated).
Each firing is audited. ``sla_breached`` rows wait until the tier's first-response SLA has
run out since queueing, and fire only if no person replied in that handoff meanwhile.
``sla_about_to_breach`` rows stay open until that deadline (or a person's reply): each
rule is evaluated from ``within_seconds`` before the deadline, in every round until it
fires or the deadline passes (a runner that first sees the row after the deadline fires
nothing: it is no longer "about to"), and the firings table lets it fire once.
After the rules, the round runs auto-assignment over the queue (``assignment.auto_assign``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from automation.actions import RuleActions
from automation.context import RuleContext, context_at, matches, with_client
from automation.repository import AuditWriter, RulesRepository
from automation.rules import Rule, RuleSet, Trigger
from automation.tables import automation_firings, automation_inbox
from bot.periodic import cancel_and_wait
from bot.redact import conversation_ref
from bot.store.event_store import EventStore, StoredEvent
from handoff.assignment import AutoAssigner
from handoff.projections import conversation_facts, handoff_tickets
from handoff.runtime import HandoffRuntime
from handoff.state import HandoffStatus

log = logging.getLogger(__name__)

AUDIT_ACTOR = "automation"
DEFAULT_POLL = 1.0
BATCH = 100
MAX_WATCHES = 20_000  # open SLA watches read per round (two per queued conversation)
MAX_FIRINGS_PER_HOUR = 20  # per conversation: a loop of rules feeding each other stops here
ASSIGN_EVERY = 5.0  # seconds between auto-assignment sweeps of the queue


class AutomationRunner:
    """One process's rule runner (start it, or call :meth:`run_once` from a test)."""

    def __init__(
        self,
        store: EventStore,
        runtime: HandoffRuntime,
        repository: RulesRepository,
        actions: RuleActions,
        audit: AuditWriter,
        *,
        clock: Callable[[], float] = time.time,
        poll: float = DEFAULT_POLL,
        name: str = "runner",
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.repository = repository
        self.actions = actions
        self.audit = audit
        self.clock = clock
        self.poll = poll
        self.name = name
        self.assigner = AutoAssigner(runtime)
        self._task: asyncio.Task[None] | None = None

    # ---- one round --------------------------------------------------------------------------
    async def run_once(self, *, assign: bool = True) -> int:
        """Evaluate what the inbox holds now (and auto-assign the queue); returns how many
        rules fired through this runner."""
        version, rules = await self.repository.rules()
        now = self.clock()
        fired = 0
        logs: dict[str, list[StoredEvent]] = {}
        rows = await self._pending()
        watched = [row for row in rows if row.trigger in rules.triggers]
        await self._skip([row.id for row in rows if row.trigger not in rules.triggers])
        for row in watched:
            fired += await self._handle(row, version, rules, now, logs)
        if assign:
            await self.assigner.sweep(now)
        return fired

    async def _pending(self) -> list[Any]:
        """Undone rows, oldest first: up to ``BATCH`` event rows, and every open SLA watch
        (one pair per queued conversation; read in pages, at most ``MAX_WATCHES``). Watches are
        read apart, so those still waiting for their deadline never crowd new events out of a
        round, and all of them, because their deadlines depend on the tier: a VIP queued behind
        fifty Standard conversations (two watches each) must still be warned within its lead."""
        undone = (
            select(automation_inbox).where(automation_inbox.c.done.is_(False)).order_by(automation_inbox.c.id)
        )
        due_at = automation_inbox.c.due_at
        watches: list[Any] = []
        async with self.store.engine.connect() as conn:
            fresh = (await conn.execute(undone.where(due_at.is_(None)).limit(BATCH))).all()
            after = 0
            while len(watches) < MAX_WATCHES:
                page = (
                    await conn.execute(
                        undone.where(due_at.is_not(None), automation_inbox.c.id > after).limit(BATCH)
                    )
                ).all()
                watches.extend(page)
                if len(page) < BATCH:
                    break
                after = page[-1].id
            else:
                log.warning("automation: more than %d open SLA watches; the rest wait a round", MAX_WATCHES)
        return [*fresh, *watches]

    async def _skip(self, row_ids: list[int]) -> None:
        """Mark done, in one statement, rows of triggers no enabled rule runs on (rules apply
        from when they are saved); an idle round writes nothing."""
        if row_ids:
            async with self.store.engine.begin() as conn:
                await conn.execute(
                    update(automation_inbox).where(automation_inbox.c.id.in_(row_ids)).values(done=True)
                )

    async def _done(self, row_id: int) -> None:
        async with self.store.engine.begin() as conn:
            await conn.execute(
                update(automation_inbox).where(automation_inbox.c.id == row_id).values(done=True)
            )

    async def _handle(
        self, row: Any, version: int, rules: RuleSet, now: float, logs: dict[str, list[StoredEvent]]
    ) -> int:
        trigger = Trigger(row.trigger)
        candidates = rules.for_trigger(trigger)
        watch = trigger in (Trigger.SLA_BREACHED, Trigger.SLA_ABOUT_TO_BREACH)
        if not candidates or (row.at < now - rules.stale_after_seconds and not watch):
            await self._done(row.id)
            return 0
        if trigger == Trigger.SLA_BREACHED:
            state, _ = await self._sla_state(row, now)
            if state == "waiting":
                return 0  # looked at again next round
            if state == "met":
                await self._done(row.id)
                return 0
        elif trigger == Trigger.SLA_ABOUT_TO_BREACH:
            state, deadline = await self._sla_state(row, now)
            if state != "waiting":  # answered, over, or too late to warn (sla_breached's turn)
                await self._done(row.id)
                return 0
            candidates = await self._warnings_due(row, candidates, deadline, now)
            if not candidates:
                return 0  # looked at again next round, until the deadline
        cid = row.conversation_id
        if cid not in logs:
            logs[cid] = await self.store.load(cid)
        context = context_at(cid, logs[cid], row.seq, trigger)
        if watch:
            context.at = now
        context = with_client(context, await self.runtime.client_for(cid))
        fired = 0
        for rule in candidates:
            if matches(rule.when, context, self.runtime.config) and await self._fire(
                rule, rules, version, context
            ):
                fired += 1
                logs.pop(cid, None)  # the actions may have appended: read the log again
        if trigger != Trigger.SLA_ABOUT_TO_BREACH:  # a warning row stays open until the deadline
            await self._done(row.id)
        return fired

    async def _warnings_due(
        self, row: Any, candidates: list[Rule], deadline: float, now: float
    ) -> list[Rule]:
        """The ``sla_about_to_breach`` rules whose lead has begun and that have not fired on
        this queue entry yet."""
        due = [r for r in candidates if now >= deadline - (r.within_seconds or 0.0)]
        if not due:
            return []
        fired = select(automation_firings.c.rule_id).where(
            automation_firings.c.conversation_id == row.conversation_id, automation_firings.c.seq == row.seq
        )
        async with self.store.engine.connect() as conn:
            done = set((await conn.execute(fired)).scalars().all())
        return [r for r in due if r.id not in done]

    async def _sla_state(self, row: Any, now: float) -> tuple[str, float]:
        """``waiting`` (SLA not run out yet), ``met`` (a person replied, or the handoff ended)
        or ``breached``, and the first-response deadline."""
        async with self.store.engine.connect() as conn:
            ticket = (
                await conn.execute(
                    select(handoff_tickets).where(handoff_tickets.c.conversation_id == row.conversation_id)
                )
            ).first()
            tier = (
                await conn.execute(
                    select(conversation_facts.c.tier).where(
                        conversation_facts.c.conversation_id == row.conversation_id
                    )
                )
            ).scalar()
        config = self.runtime.config
        sla = config.sla_seconds(tier if tier in config.sla.first_response_seconds else config.tiers.default)
        deadline = row.due_at + sla
        open_statuses = {HandoffStatus.QUEUED.value, HandoffStatus.ASSIGNED.value}
        if ticket is None or ticket.status not in open_statuses or ticket.queued_at != row.due_at:
            return "met", deadline  # this handoff is over (or a later one started: it has its own row)
        if ticket.first_response_at is not None and ticket.first_response_at - row.due_at <= sla:
            return "met", deadline
        if ticket.first_response_at is None and now < deadline:
            return "waiting", deadline
        return "breached", deadline

    async def _fire(self, rule: Rule, rules: RuleSet, version: int, context: RuleContext) -> bool:
        """Claim the firing (one insert wins across processes), run the actions, audit.
        A conversation that already had :data:`MAX_FIRINGS_PER_HOUR` firings in the last hour
        gets no more (rules whose actions trigger each other must not loop forever)."""
        engine = self.store.engine
        recent = select(func.count()).where(
            automation_firings.c.conversation_id == context.conversation_id,
            automation_firings.c.fired_at >= self.clock() - 3600,
        )
        async with engine.connect() as conn:
            if int((await conn.execute(recent)).scalar() or 0) >= MAX_FIRINGS_PER_HOUR:
                log.warning(
                    "rule %s not fired on %s: %d firings in the last hour",
                    rule.id,
                    conversation_ref(context.conversation_id),
                    MAX_FIRINGS_PER_HOUR,
                )
                return False
        insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        claim = (
            insert(automation_firings)
            .values(
                rule_id=rule.id,
                conversation_id=context.conversation_id,
                seq=context.seq,
                trigger=str(context.trigger),
                rules_version=version,
                fired_at=self.clock(),
                status="running",
                results=[],
            )
            .on_conflict_do_nothing()
            .returning(automation_firings.c.id)
        )
        async with engine.begin() as conn:
            firing_id = (await conn.execute(claim)).scalar()
        if firing_id is None:
            return False  # another runner fired it
        results = await self.actions.run(rule, rules, context)
        status = "done" if all(r.ok for r in results) else "partial"
        dumped = [r.model_dump() for r in results]
        async with engine.begin() as conn:
            await conn.execute(
                update(automation_firings)
                .where(automation_firings.c.id == firing_id)
                .values(status=status, results=dumped)
            )
        await self.audit.record(
            AUDIT_ACTOR,
            "automation.rule_fired",
            f"conversation:{context.conversation_id}",
            {
                "rule": rule.id,
                "version": version,
                "trigger": str(context.trigger),
                "seq": context.seq,
                "status": status,
                "results": dumped,
                "runner": self.name,
            },
        )
        log.info("rule %s fired on %s (%s)", rule.id, conversation_ref(context.conversation_id), status)
        return True

    # ---- background loop -------------------------------------------------------------------
    def start(self) -> AutomationRunner:
        """Run rounds every ``poll`` seconds in the background until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="automation-runner")
        return self

    async def _loop(self) -> None:
        last_sweep = float("-inf")
        while True:
            try:
                due = time.monotonic() - last_sweep >= ASSIGN_EVERY  # the queue is read every few s
                await self.run_once(assign=due)
                if due:
                    last_sweep = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad round (database away) is logged; the next one retries
                log.exception("automation round failed")
            await asyncio.sleep(self.poll)

    async def stop(self) -> None:
        """Stop the loop and close the webhook client."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self.actions.http.aclose()
