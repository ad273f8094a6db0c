"""Threading: which conversation a mail belongs to, and what a reply must refer to.

A conversation is one client address (``email:<address>``); no table of our own is
needed, because what threading needs is already stored:

- the client's mails are in the inbound journal (``inbound_messages``, written by
  ``handler.receive``) with their Message-ID, subject and References in the message's
  metadata (``email_message_id``, ``email_subject``, ``email_references``): a reply goes
  ``In-Reply-To`` the conversation's latest client mail, with that mail's References plus
  its id, under "Re: <its subject>";
- our own mails are outbox rows whose provider id is the Message-ID we made: a client's
  mail answering one of them (``In-Reply-To``/``References``) continues that conversation
  even when it comes from another address (a work address, an alias), and a numbered
  answer is read against the buttons of the very message it answers.

Both are read-only queries on the engine's database (the tables belong to the event store
and the outbox).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.email.compose import ThreadHeaders
from bot.channels.email.parse import message_ids, subject_topic
from bot.channels.tables import outbox
from bot.models import Button, InboundMessage, OutboundMessage
from bot.store.tables import inbound_messages

__all__ = ["ClientMail", "ThreadIndex"]

SENT = ("sent", "delivered", "read")


class ClientMail(ThreadHeaders):
    """The client mail a reply answers: thread headers plus where the client wrote from."""

    reply_to: str | None = None
    reply_name: str | None = None


class ThreadIndex:
    """Thread lookups over the journal and the outbox for one channel."""

    def __init__(self, engine: AsyncEngine, channel: str) -> None:
        self.engine = engine
        self.channel = channel

    async def conversation_of_our_mail(self, ids: list[str]) -> str | None:
        """The recipient (sender id) of the first of ``ids`` that is a mail we sent, if any."""
        if not ids:
            return None
        stmt = select(outbox.c.provider_message_id, outbox.c.recipient_id).where(
            outbox.c.channel == self.channel, outbox.c.provider_message_id.in_(ids)
        )
        async with self.engine.connect() as conn:
            found = {mid: recipient for mid, recipient in (await conn.execute(stmt)).all()}
        return next((found[mid] for mid in ids if mid in found), None)

    async def buttons_answered(self, conversation_id: str, ids: list[str]) -> list[Button]:
        """The buttons of the message a client mail answers: the one of ours it names in
        In-Reply-To/References, else our latest sent message in the conversation."""
        stmt = select(outbox.c.provider_message_id, outbox.c.payload).where(
            outbox.c.channel == self.channel,
            outbox.c.conversation_id == conversation_id,
            outbox.c.status.in_(SENT),
        )
        async with self.engine.connect() as conn:
            if ids:
                answered = await conn.execute(stmt.where(outbox.c.provider_message_id.in_(ids)))
                named = {mid: payload for mid, payload in answered.all()}
                for mid in ids:
                    if mid in named:
                        return _buttons(named[mid])
            latest = (await conn.execute(stmt.order_by(outbox.c.id.desc()).limit(1))).first()
        return _buttons(latest[1]) if latest is not None else []

    async def latest_client_mail(self, conversation_id: str) -> ClientMail | None:
        """Thread headers of the conversation's latest client mail (None before the first)."""
        stmt = (
            select(inbound_messages.c.payload)
            .where(inbound_messages.c.conversation_id == conversation_id)
            .order_by(inbound_messages.c.id.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            payload = (await conn.execute(stmt)).scalar_one_or_none()
        if payload is None:
            return None
        try:
            message = InboundMessage.model_validate(payload)
        except ValidationError:
            return None
        meta = message.metadata
        if "email_message_id" not in meta:
            return None
        return ClientMail(
            topic=subject_topic(meta.get("email_subject", "")),
            in_reply_to=meta["email_message_id"],
            references=message_ids(meta.get("email_references", "")),
            # rows stored before identities were typed kept the address in the metadata
            reply_to=next(
                (i.value for i in message.identities if i.kind == "email"), meta.get("contact_email")
            ),
            reply_name=message.hints.name or meta.get("contact_name"),
        )


def _buttons(payload: Any) -> list[Button]:
    try:
        return OutboundMessage.model_validate(payload).buttons
    except ValidationError:
        return []
