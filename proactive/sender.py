"""The sender: claims due proactive messages once across processes and sends them.

A round (:meth:`ProactiveSender.run_round`, run by :class:`bot.periodic.Periodic`) claims
each due row with a conditional UPDATE (``scheduled`` -> ``sending``, ``attempts`` + 1,
a lease), so two senders in two processes never take the same row; a sender that died
mid-send leaves a ``sending`` row another one claims once its lease has run out. For a
claimed row, in order:

1. the client said stop (:func:`proactive.schedule.opted_out`): ``skipped`` (``opted_out``);
2. a reminder whose action asked ``kill_on_user_msg`` and the client wrote since: skipped;
3. quiet hours in the studio's time zone: back to ``scheduled`` at their end (deferred);
4. the per-client frequency cap: skipped (``frequency_cap``);
5. the channel's own checks (``PushChannel.prepare``, as for an agent's reply): outside
   WhatsApp's 24-hour window the kind's approved template (its purpose in ``proactive.yml``,
   its name and parameters in ``credentials.yml``) goes instead of free text, or, with none
   configured, the row is skipped (``outside_window_no_template``);
6. otherwise the line is appended to the conversation (``BotUttered`` with the row's id and
   claim in its metadata): the outbox projector queues it for the client's channel and the
   proactive projector marks the row ``sent``, both in that append's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from bot.channels.base import PushChannel
from bot.channels.service_window import ServiceWindow, fill
from bot.errors import ChannelError, OutsideWindow
from bot.events import BotUttered, UserUttered
from bot.redact import conversation_ref
from bot.store.event_store import EventStore, split_conversation_id
from bot.transcript import outbound_from_bot_event
from proactive.config import ProactiveConfig
from proactive.schedule import CLAIM_KEY, ID_KEY, KIND_KEY, ClaimLost, opted_out
from proactive.tables import proactive_messages as pm

log = logging.getLogger(__name__)

BATCH = 50
#: channels whose clients read the conversation's log (no outbox): the stored line is the delivery
LOG_READING_CHANNELS = frozenset({"widget"})


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class ProactiveSender:
    """Sends due proactive messages through the client's own channel (see the module docstring).

    ``channels``: the app's channel adapters by name; a push channel's ``prepare`` decides
    what may go out (WhatsApp's window). ``wake``: tell the outbox worker a row is waiting.
    """

    def __init__(
        self,
        store: EventStore,
        config: ProactiveConfig,
        channels: Mapping[str, Any],
        *,
        clock: Callable[[], datetime] = utc_now,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.channels = channels
        self.clock = clock
        self.wake = wake
        self.outcomes: dict[str, int] = {}  # sent / skipped:<reason> / deferred (health, tests)

    async def run_round(self) -> int:
        """Claim and handle every due row; returns how many were sent."""
        sent = 0
        for row in await self._claim_due(self.clock()):
            outcome = await self._handle(row)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            sent += outcome == "sent"
        if sent and self.wake is not None:
            self.wake()
        return sent

    # ---- claiming ------------------------------------------------------------------
    def _due(self, now: datetime) -> Any:
        return or_(
            and_(pm.c.state == "scheduled", pm.c.due_at <= now),
            and_(pm.c.state == "sending", pm.c.lease_until < now),
        )

    async def _claim_due(self, now: datetime) -> list[dict[str, Any]]:
        async with self.store.engine.connect() as conn:
            ids = (
                (await conn.execute(select(pm.c.id).where(self._due(now)).order_by(pm.c.due_at).limit(BATCH)))
                .scalars()
                .all()
            )
        claimed = []
        lease = now + timedelta(seconds=self.config.lease_seconds)
        for row_id in ids:
            async with self.store.engine.begin() as conn:
                result = await conn.execute(
                    update(pm)
                    .where(pm.c.id == row_id, self._due(now))
                    .values(state="sending", attempts=pm.c.attempts + 1, lease_until=lease, updated_at=now)
                )
                if result.rowcount != 1:
                    continue  # another sender took it
                row = (await conn.execute(select(pm).where(pm.c.id == row_id))).one()
            claimed.append(dict(row._mapping))
        return claimed

    async def _release(self, row: dict[str, Any], **values: Any) -> None:
        """Move a claimed row on (skipped, deferred) if the claim is still ours."""
        async with self.store.engine.begin() as conn:
            await conn.execute(
                update(pm)
                .where(pm.c.id == row["id"], pm.c.state == "sending", pm.c.attempts == row["attempts"])
                .values(lease_until=None, updated_at=self.clock(), **values)
            )

    async def _skip(self, row: dict[str, Any], reason: str) -> str:
        await self._release(row, state="skipped", reason=reason)
        log.info("proactive: %s #%d skipped (%s)", row["kind"], row["id"], reason)
        return f"skipped:{reason}"

    # ---- one row ---------------------------------------------------------------------
    async def _handle(self, row: dict[str, Any]) -> str:
        now = self.clock()
        conversation_id: str = row["conversation_id"]
        kind = self.config.kind(row["kind"])
        async with self.store.engine.connect() as conn:
            if await opted_out(conn, conversation_id, row["client_id"]):
                return await self._skip(row, "opted_out")
        if not kind.enabled:
            return await self._skip(row, "kind_disabled")
        params: dict[str, Any] = dict(row["params"] or {})
        if params.get("kill_on_user_msg") and await self._client_wrote_since(
            conversation_id, row["created_at"]
        ):
            return await self._skip(row, "client_wrote_first")
        appointment = params.get("appointment_at")
        appointment_at = datetime.fromisoformat(str(appointment)) if appointment else None
        if appointment_at is not None and appointment_at <= now:
            return await self._skip(row, "appointment_passed")
        local = now.astimezone(self.config.zone)
        allowed = self.config.quiet_hours.next_allowed(local)
        if allowed != local and appointment_at is not None and allowed >= appointment_at:
            return await self._skip(row, "quiet_hours_until_appointment")
        if allowed != local:
            await self._release(
                row, state="scheduled", due_at=allowed.astimezone(UTC), reason="deferred: quiet hours"
            )
            log.info("proactive: %s #%d deferred to the end of quiet hours", row["kind"], row["id"])
            return "deferred"
        if await self._capped(row, now):
            return await self._skip(row, "frequency_cap")
        channel_name, recipient = split_conversation_id(conversation_id)
        channel = self.channels.get(channel_name)
        language = row["language"] or "en"
        text = fill(kind.messages.get(language) or kind.messages.get("en", ""), _strings(params))
        metadata = {"sender": "bot", KIND_KEY: row["kind"], ID_KEY: row["id"], CLAIM_KEY: row["attempts"]}
        line = BotUttered(text=text, timestamp=now.timestamp(), metadata=metadata)
        if channel_name in LOG_READING_CHANNELS:
            pass  # the widget's client reads the log: the line is the delivery
        elif not isinstance(channel, PushChannel):
            return await self._skip(row, "channel_cannot_push")
        else:
            message = outbound_from_bot_event(line, channel_name, recipient)
            if isinstance(getattr(channel, "window", None), ServiceWindow) and kind.template:
                # outside WhatsApp's 24-hour window the channel sends this approved template
                custom = {"template": kind.template, "template_params": _strings(params)}
                message = message.model_copy(update={"custom": custom})
            try:
                message = await channel.prepare(message)
            except OutsideWindow:
                return await self._skip(row, "outside_window_no_template")
            except ChannelError as exc:
                reason = f"channel error: {exc}"[:255]
                await self._release(row, state="scheduled", due_at=now + timedelta(minutes=5), reason=reason)
                return "deferred"
            if message.custom:  # the outbox row is built from the stored line
                line = line.model_copy(update={"data": {"custom": message.custom}})
        try:
            (seq,) = await self.store.append(conversation_id, [line])
        except ClaimLost:
            log.warning("proactive: #%d was claimed again by another sender; not sent here", row["id"])
            return "lost"
        log.info(
            "proactive: %s #%d sent to %s (seq %d)",
            row["kind"],
            row["id"],
            conversation_ref(conversation_id),
            seq,
        )
        return "sent"

    async def _client_wrote_since(self, conversation_id: str, since: datetime) -> bool:
        events = await self.store.events(conversation_id)
        return any(isinstance(e, UserUttered) and e.timestamp > since.timestamp() for e in events)

    async def _capped(self, row: dict[str, Any], now: datetime) -> bool:
        who = (
            pm.c.client_id == row["client_id"]
            if row["client_id"]
            else pm.c.conversation_id == row["conversation_id"]
        )
        since = now - timedelta(hours=self.config.cap_window_hours)
        stmt = select(func.count()).select_from(pm).where(who, pm.c.state == "sent", pm.c.updated_at >= since)
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one()) >= self.config.max_per_client


def _strings(params: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.items() if v is not None and k != "kill_on_user_msg"}
