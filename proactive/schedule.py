"""The schedule of proactive messages: rows in ``proactive_messages`` and the projector that
writes them in the append's transaction.

:class:`ProactiveProjector` follows a conversation's log: an action's ``reminder`` event
schedules a message (``cancel_reminder`` cancels it), a client's "stop" records an opt-out,
and a proactive line (``BotUttered`` whose metadata names its schedule row and claim) marks
the row ``sent``. That last step is conditional on the claim still being the sender's: if
another sender took the row over meanwhile, :class:`ClaimLost` rolls the whole append back,
so a proactive message is stored (and queued in the outbox) at most once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.audit import write_entry
from bot.events import BotUttered, ReminderCancelled, ReminderScheduled, UserUttered
from bot.store.event_store import StoredEvent
from proactive.config import ProactiveConfig
from proactive.tables import proactive_messages, proactive_optouts

log = logging.getLogger(__name__)

#: ``BotUttered.metadata`` keys of a proactive line
KIND_KEY = "proactive"
ID_KEY = "proactive_id"
CLAIM_KEY = "proactive_claim"
OPEN_STATES = ("scheduled", "awaiting_approval")


class ClaimLost(RuntimeError):
    """The row was claimed again by another sender (or decided) before this send was stored."""


def insert_rows(dialect: str, rows: Sequence[Mapping[str, Any]]) -> Any:
    """INSERT of schedule rows; a key already scheduled is left alone (never twice)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(proactive_messages).values(list(rows)).on_conflict_do_nothing(index_elements=["key"])


def new_row(
    *,
    key: str,
    kind: str,
    conversation_id: str,
    due_at: datetime,
    params: Mapping[str, Any],
    now: datetime,
    client_id: str | None = None,
    language: str | None = None,
    state: str = "scheduled",
) -> dict[str, Any]:
    """The column values of a newly scheduled message."""
    return {
        "key": key[:255],
        "kind": kind,
        "conversation_id": conversation_id,
        "client_id": client_id,
        "due_at": due_at,
        "state": state,
        "params": dict(params),
        "language": language,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def reminder_key(conversation_id: str, name: str) -> str:
    """The unique key of an action's reminder ``name`` in a conversation."""
    return f"reminder:{conversation_id}:{name}"


def _due(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _entities(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):  # Rasa's list form: [{"entity": ..., "value": ...}]
        return {str(e.get("entity")): e.get("value") for e in value if isinstance(e, Mapping)}
    return {}


def normalise(text: str) -> str:
    """Lower case, punctuation and extra spaces dropped: how a "stop" is compared."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


class ProactiveProjector:
    """Schedules reminders, records opt-outs and marks sends, in the append's transaction."""

    name = "proactive"
    handles: frozenset[str] = frozenset({"user", "bot", "reminder", "cancel_reminder"})

    def __init__(self, config: ProactiveConfig) -> None:
        self.config = config
        self.stop_words = {normalise(w) for w in config.stop_words}

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Apply the new events of one conversation (see the module docstring)."""
        now = datetime.now(UTC)
        for item in stored:
            event = item.event
            if isinstance(event, ReminderScheduled):
                await self._schedule(conn, conversation_id, item.seq, event, now)
            elif isinstance(event, ReminderCancelled) and event.name:
                await conn.execute(
                    update(proactive_messages)
                    .where(
                        or_(
                            proactive_messages.c.key == reminder_key(conversation_id, event.name),
                            proactive_messages.c.key.startswith(
                                reminder_key(conversation_id, event.name) + ":", autoescape=True
                            ),
                        ),
                        proactive_messages.c.state.in_(OPEN_STATES),
                    )
                    .values(state="cancelled", reason="cancelled by the conversation", updated_at=now)
                )
            elif isinstance(event, UserUttered) and normalise(event.text or "") in self.stop_words:
                await self._opt_out(conn, conversation_id, item.seq, now)
            elif isinstance(event, BotUttered) and event.metadata.get(ID_KEY) is not None:
                await self._sent(conn, event, item.seq, now)

    async def _schedule(
        self, conn: AsyncConnection, conversation_id: str, seq: int, event: ReminderScheduled, now: datetime
    ) -> None:
        entities = _entities(event.entities)
        kind = str(entities.pop("kind", None) or event.intent)
        language = entities.pop("language", None)
        params = {**entities, "kill_on_user_msg": event.kill_on_user_msg}
        name = event.name or f"seq{seq}"
        due = [(name, _due(event.date_time))]
        appointment = entities.get("appointment_at")
        if appointment:
            due = self.reminder_times(name, _due(str(appointment)), now)
        rows = [
            new_row(
                key=reminder_key(conversation_id, key),
                kind=kind,
                conversation_id=conversation_id,
                due_at=at,
                params=params,
                now=now,
                client_id=entities.get("client_id"),
                language=str(language) if language else None,
            )
            for key, at in due
        ]
        after = self.config.follow_up_after_hours
        if appointment and after is not None and self.config.kind("follow_up").enabled:
            # after the visit: the appointment's time is no reason to skip it, so it is not a param
            ends = _due(str(appointment)) + timedelta(minutes=float(entities.get("duration_min") or 0))
            rows.append(
                new_row(
                    key=reminder_key(conversation_id, f"{name}:follow_up"),
                    kind="follow_up",
                    conversation_id=conversation_id,
                    due_at=ends + timedelta(hours=after),
                    params={k: v for k, v in params.items() if k != "appointment_at"},
                    now=now,
                    client_id=entities.get("client_id"),
                    language=str(language) if language else None,
                )
            )
        if rows:
            await conn.execute(insert_rows(conn.dialect.name, rows))

    def reminder_times(self, name: str, appointment: datetime, now: datetime) -> list[tuple[str, datetime]]:
        """``(key, due)`` for each configured offset before ``appointment`` still ahead of ``now``.

        Offsets count on the studio's wall clock: "24 h before" a 10:00 appointment is 10:00
        the day before, even across a daylight-saving change.
        """
        local = appointment.astimezone(self.config.zone)
        times = []
        for hours in self.config.reminder_offsets_hours:
            due = (local - timedelta(hours=hours)).astimezone(UTC)
            if due > now:
                times.append((f"{name}:{hours:g}h", due))
        return times

    async def _opt_out(self, conn: AsyncConnection, conversation_id: str, seq: int, now: datetime) -> None:
        insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        client = (
            await conn.execute(
                select(proactive_messages.c.client_id)
                .where(
                    proactive_messages.c.conversation_id == conversation_id,
                    proactive_messages.c.client_id.is_not(None),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        values = {"conversation_id": conversation_id, "client_id": client, "seq": seq, "at": now}
        await conn.execute(insert(proactive_optouts).values(values).on_conflict_do_nothing())
        log.info("proactive: a client opted out of proactive messages (seq %d)", seq)

    async def _sent(self, conn: AsyncConnection, event: BotUttered, seq: int, now: datetime) -> None:
        row_id, claim = event.metadata.get(ID_KEY), event.metadata.get(CLAIM_KEY)
        result = await conn.execute(
            update(proactive_messages)
            .where(
                proactive_messages.c.id == row_id,
                proactive_messages.c.state == "sending",
                proactive_messages.c.attempts == claim,
            )
            .values(state="sent", sent_seq=seq, reason=None, lease_until=None, updated_at=now)
        )
        if result.rowcount != 1:
            raise ClaimLost(f"proactive message {row_id} is no longer claimed by this sender (claim {claim})")

    async def reset(self, conn: AsyncConnection) -> None:
        """Keep every row: the schedule records what was sent, and nothing may be sent twice."""
        return None


async def opted_out(conn: AsyncConnection, conversation_id: str, client_id: str | None) -> bool:
    """Whether the conversation (or the same client elsewhere) said stop."""
    where = proactive_optouts.c.conversation_id == conversation_id
    if client_id:
        where = or_(where, proactive_optouts.c.client_id == client_id)
    return (await conn.execute(select(proactive_optouts.c.seq).where(where).limit(1))).first() is not None


class Approvals:
    """The rows waiting for an agent, and the agent's decision (approve: scheduled; reject: cancelled)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def waiting(self, limit: int = 200) -> list[dict[str, Any]]:
        """Rows awaiting approval, soonest first (kind, conversation, client, due time, language, params)."""
        columns = [
            proactive_messages.c.id,
            proactive_messages.c.kind,
            proactive_messages.c.conversation_id,
            proactive_messages.c.client_id,
            proactive_messages.c.due_at,
            proactive_messages.c.language,
            proactive_messages.c.params,
        ]
        stmt = (
            select(*columns)
            .where(proactive_messages.c.state == "awaiting_approval")
            .order_by(proactive_messages.c.due_at, proactive_messages.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(stmt)]

    async def decide(
        self, row_id: int, approve: bool, by: str, role: str | None = None, now: datetime | None = None
    ) -> dict[str, Any] | None:
        """Approve (``scheduled``) or reject (``cancelled``) a waiting row, with its audit entry
        (``proactive.approve`` / ``proactive.reject`` on the conversation) in the same
        transaction; None when it is not waiting (decided already, or no such row)."""
        now = now or datetime.now(UTC)
        values: dict[str, Any] = {"decided_by": by[:255], "updated_at": now}
        if approve:
            values["state"] = "scheduled"
        else:
            values.update(state="cancelled", reason="rejected by an agent")
        waiting = and_(proactive_messages.c.id == row_id, proactive_messages.c.state == "awaiting_approval")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(proactive_messages)
                .where(waiting)
                .values(**values)
                .returning(proactive_messages.c.kind, proactive_messages.c.conversation_id)
            )
            decided = result.first()
            if decided is None:
                return None
            action = "proactive.approve" if approve else "proactive.reject"
            detail = {"id": row_id, "kind": decided.kind}
            await write_entry(conn, now, by, role, action, f"conversation:{decided.conversation_id}", detail)
        return {"id": row_id, "kind": decided.kind, "state": values["state"]}
