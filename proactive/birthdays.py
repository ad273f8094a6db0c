"""The daily pass that schedules birthday greetings by tier.

For each client whose birthday is on ``today`` (the studio's date; 29 February greets on
28 February in other years) and whose tier (computed as on the client card,
:func:`handoff.profiles.load_profile`) is one of ``birthday.tiers``, one greeting is
scheduled at ``birthday.send_at`` local time, to the client's most recent conversation on
a channel that can send first. Tiers in ``birthday.approval_tiers`` wait for an agent
(``awaiting_approval``). The key ``birthday:<client>:<year>`` makes a second pass, on this
process or another, schedule nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.event_store import split_conversation_id
from handoff.config import TierConfig
from handoff.profiles import load_profile
from handoff.projections import conversation_facts
from handoff.tables import clients
from proactive.config import ProactiveConfig
from proactive.schedule import insert_rows, new_row
from proactive.tables import proactive_messages

log = logging.getLogger(__name__)


def is_birthday(birthday: date, today: date) -> bool:
    """Whether ``today`` is the birthday (a 29 February birthday counts on 28 February in other years)."""
    if (birthday.month, birthday.day) == (today.month, today.day):
        return True
    leap_day = (birthday.month, birthday.day) == (2, 29)
    return leap_day and (today.month, today.day) == (2, 28) and not _leap(today.year)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


async def schedule_birthdays(
    engine: AsyncEngine,
    config: ProactiveConfig,
    tiers: TierConfig,
    today: date,
    *,
    channels: Collection[str],
    now: datetime | None = None,
) -> int:
    """Schedule today's greetings (see the module docstring); returns how many rows were new."""
    if not config.kind("birthday").enabled or not config.birthday.tiers:
        return 0
    now = now or datetime.now(UTC)
    due = datetime.combine(today, config.birthday.send_at, tzinfo=config.zone).astimezone(UTC)
    rows = []
    async with engine.connect() as conn:
        candidates = await conn.execute(
            select(clients.c.id, clients.c.birthday, clients.c.language).where(
                clients.c.birthday.is_not(None), clients.c.merged_into.is_(None)
            )
        )
        for client_id, birthday, language in candidates.all():
            if not is_birthday(birthday, today):
                continue
            tier = (await load_profile(conn, client_id, today, tiers)).tier
            if tier not in config.birthday.tiers:
                continue
            conversations = await conn.execute(
                select(conversation_facts.c.conversation_id)
                .where(conversation_facts.c.client_id == client_id)
                .order_by(conversation_facts.c.last_user_at.desc())
            )
            target = next(
                (c for (c,) in conversations if split_conversation_id(c)[0] in channels),
                None,
            )
            if target is None:
                log.info("proactive: a %s birthday has no conversation on a channel that sends first", tier)
                continue
            state = "awaiting_approval" if tier in config.birthday.approval_tiers else "scheduled"
            rows.append(
                new_row(
                    key=f"birthday:{client_id}:{today.year}",
                    kind="birthday",
                    conversation_id=target,
                    client_id=client_id,
                    due_at=due,
                    params={"tier": tier},
                    now=now,
                    language=language,
                    state=state,
                )
            )
    if not rows:
        return 0
    async with engine.begin() as conn:
        result = await conn.execute(insert_rows(engine.dialect.name, rows).returning(proactive_messages.c.id))
        return len(result.all())
