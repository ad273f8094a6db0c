"""Opaque conversation ids (bot/channels/addresses.py) on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, select

from bot.channels.addresses import AddressBook, is_opaque, opaque_token, split_conversation_id
from bot.channels.tables import METADATA, channel_addresses, server_keys
from bot.store import EventStore

KEY = b"k" * 32


def test_a_token_is_fixed_for_an_address_and_tells_nothing_about_it() -> None:
    token = opaque_token(KEY, "whatsapp", "+48601234567")
    assert token == opaque_token(KEY, "whatsapp", "+48601234567")
    assert len(token) == 26 and is_opaque(token) and is_opaque(f"whatsapp:{token}")
    assert "48601234567" not in token
    # another channel, another key or another address: another token
    assert token != opaque_token(KEY, "whatsapp_cloud", "+48601234567")
    assert token != opaque_token(b"x" * 32, "whatsapp", "+48601234567")
    assert token != opaque_token(KEY, "whatsapp", "+48601234568")


def test_addresses_are_never_mistaken_for_tokens() -> None:
    for address in ("+48601234567", "48601234567", "ana@example.com", "6712345098765432", "-1001234567"):
        assert not is_opaque(address) and not is_opaque(f"telegram:{address}")
    assert split_conversation_id("email:abc") == ("email", "abc")


def _drift(connection: Connection) -> list[object]:
    def ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "table" or name in ("channel_addresses", "server_keys")

    def mine(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
        return type_ != "table" or name in ("channel_addresses", "server_keys")

    opts = {"compare_type": True, "include_name": ours, "include_object": mine}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, METADATA))


async def test_revision_0011_builds_the_tables_as_defined(migrated_store: EventStore) -> None:
    async with migrated_store.engine.connect() as conn:
        assert await conn.run_sync(_drift) == []


async def test_every_process_derives_the_same_ids_from_one_key_in_the_database(
    migrated_store: EventStore,
) -> None:
    engine = migrated_store.engine
    books = [AddressBook(engine) for _ in range(4)]  # four processes starting at once
    ids = await asyncio.gather(*(b.conversation_id("whatsapp", "+48601234567") for b in books))
    assert len(set(ids)) == 1 and is_opaque(ids[0]) and ids[0].startswith("whatsapp:")
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(server_keys))).scalar_one() == 1


async def test_the_address_is_kept_once_and_the_outbox_reads_it(migrated_store: EventStore) -> None:
    book = AddressBook(migrated_store.engine)
    first = await book.remember("email", " ana@example.com ")
    assert first == await book.remember("email", "ana@example.com")  # every message: one row
    async with migrated_store.engine.connect() as conn:
        rows = (await conn.execute(select(channel_addresses))).all()
    assert [(r.conversation_id, r.channel, r.address) for r in rows] == [(first, "email", "ana@example.com")]
    token = split_conversation_id(first)[1]
    assert await book.recipient("email", token) == "ana@example.com"
    # a conversation from before opaque ids: its sender id is the address itself
    assert await book.recipient("whatsapp", "+48601234567") == "+48601234567"
    assert await book.forget([first]) == 1
    assert await book.recipient("email", token) is None  # erased: nowhere to send
