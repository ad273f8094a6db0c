"""Opaque conversation ids: ``<channel>:<token>``, never a phone number or an e-mail address.

A channel knows its client by an *address* (a WhatsApp number, an e-mail address, a
Telegram chat id, a page-scoped Messenger/Instagram id). Conversation ids travel far (the
event log, outbox rows, console URLs, log lines, read models, Redis keys), so they carry a
token instead: the first 128 bits of ``HMAC-SHA256(key, channel NUL address)`` in lowercase
base32 (26 characters). The address itself is kept in ONE table, ``channel_addresses``
(:data:`bot.channels.tables.channel_addresses`), which the outbox reads to send and the
privacy eraser deletes (``privacy.erasers.addresses``).

Why a keyed hash and not a random token with a lookup: a webhook, a polled update or an
inbound mail maps to its conversation without reading the database first, every process
and host derives the same id, and two first messages racing from one number cannot make
two conversations. The key is random, generated once and kept in the database
(``server_keys``), so whoever holds the logs or the URLs but not the database cannot test
guessed phone numbers against ids. (After an erase a new message from the same address
gets the same id again: a new, empty conversation; the erased one left no rows.)

Conversations stored before revision 0011 keep their ``<channel>:<address>`` ids; see
docs/security.md ("Conversation ids").
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.channels.tables import channel_addresses, server_keys

__all__ = [
    "KEY_NAME",
    "AddressBook",
    "conversation_id",
    "is_opaque",
    "opaque_token",
    "split_conversation_id",
]

#: the ``server_keys`` row holding the HMAC key of conversation ids
KEY_NAME = "conversation_ids"
TOKEN_CHARS = 26
_TOKEN = re.compile(rf"^[a-z2-7]{{{TOKEN_CHARS}}}$")
#: longest address kept (RFC 5321's 254-character path, with room to spare)
MAX_ADDRESS = 320


def opaque_token(key: bytes, channel: str, address: str) -> str:
    """The token of ``address`` on ``channel`` under ``key`` (deterministic, 26 characters)."""
    digest = hmac.new(key, f"{channel}\x00{address}".encode("utf-8", "surrogatepass"), hashlib.sha256)
    return base64.b32encode(digest.digest()[:16]).decode("ascii").rstrip("=").lower()


def conversation_id(channel: str, token: str) -> str:
    """``<channel>:<token>``: the id of a conversation whose sender id is ``token``."""
    return f"{channel}:{token}"


def split_conversation_id(conversation_id: str) -> tuple[str, str]:
    """``"whatsapp:<token>"`` -> ``("whatsapp", "<token>")``; without a channel: ``("", id)``."""
    channel, sep, sender = conversation_id.partition(":")
    return (channel, sender) if sep else ("", conversation_id)


def is_opaque(value: str) -> bool:
    """Whether ``value`` (a sender id or a conversation id) is a token, not an address.

    Addresses never match: phone numbers and chat ids are digits (and ``+``/``-``), e-mail
    addresses carry ``@``, page-scoped ids are digits.
    """
    return _TOKEN.match(split_conversation_id(value)[1]) is not None


class AddressBook:
    """Conversation ids of addresses, and the address of each conversation (``channel_addresses``).

    One per database engine (the outbox holds one, privacy and handoff make their own);
    the key is read (or created) on first use. Tests may pass ``key``.
    """

    def __init__(self, engine: AsyncEngine, key: bytes | None = None) -> None:
        self.engine = engine
        self._key = key
        self._loading = asyncio.Lock()

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``)."""
        return self.engine.dialect.name

    async def key(self) -> bytes:
        """The HMAC key: read from ``server_keys``, created there by the first process to ask."""
        if self._key is not None:
            return self._key
        async with self._loading:
            if self._key is None:
                async with self.engine.begin() as conn:
                    self._key = await load_key(conn)
        return self._key

    async def conversation_id(self, channel: str, address: str) -> str:
        """The id of ``address``'s conversation on ``channel`` (nothing is written)."""
        return conversation_id(channel, opaque_token(await self.key(), channel, _clean(address)))

    async def token(self, channel: str, address: str) -> str:
        """The sender id (token) of ``address`` on ``channel``."""
        return opaque_token(await self.key(), channel, _clean(address))

    async def remember(self, channel: str, address: str) -> str:
        """The conversation id of ``address`` on ``channel``, its address row written if new
        (so the outbox can answer); safe to call for every message."""
        address = _clean(address)
        cid = await self.conversation_id(channel, address)
        async with self.engine.begin() as conn:
            await conn.execute(remember_statement(self.dialect, cid, channel, address))
        return cid

    async def address(self, conversation_id: str) -> str | None:
        """The channel address of an opaque conversation; None when there is none on file
        (erased, or an id from before opaque ids)."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(channel_addresses.c.address).where(
                    channel_addresses.c.conversation_id == conversation_id
                )
            )
            return found.scalar_one_or_none()

    async def recipient(self, channel: str, recipient_id: str) -> str | None:
        """Where to send a message addressed to ``recipient_id`` on ``channel``: the address on
        file for a token, the id itself for a conversation from before opaque ids, None for a
        token whose address is gone (erased: nothing may be sent)."""
        if not is_opaque(recipient_id):
            return recipient_id
        return await self.address(conversation_id(channel, recipient_id))

    async def forget(self, conversation_ids: Iterable[str]) -> int:
        """Delete the address rows of ``conversation_ids``; how many were deleted."""
        ids = sorted(set(conversation_ids))
        if not ids:
            return 0
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(channel_addresses).where(channel_addresses.c.conversation_id.in_(ids))
            )
        return result.rowcount or 0


def _clean(address: str) -> str:
    address = address.strip()
    if not address or len(address) > MAX_ADDRESS:
        raise ValueError(f"a channel address must have 1 to {MAX_ADDRESS} characters")
    return address


def remember_statement(dialect: str, cid: str, channel: str, address: str) -> Any:
    """INSERT of one address row, a no-op when the conversation has one already."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(channel_addresses)
        .values(conversation_id=cid, channel=channel, address=address, created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["conversation_id"])
    )


async def load_key(conn: AsyncConnection) -> bytes:
    """The conversation-id key from ``server_keys`` on ``conn``; the first caller creates it
    (concurrent first callers agree: the insert is a no-op for all but one)."""
    stmt = select(server_keys.c.secret).where(server_keys.c.name == KEY_NAME)
    found = (await conn.execute(stmt)).scalar_one_or_none()
    if found is None:
        insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        await conn.execute(
            insert(server_keys)
            .values(name=KEY_NAME, secret=secrets.token_hex(32), created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        found = (await conn.execute(stmt)).scalar_one()
    return bytes.fromhex(found)
