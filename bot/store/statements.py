"""The event store's hot statements, built once per dialect and executed with parameters.

Building a SQLAlchemy Core statement is Python work (column collections, coercions, and for
an upsert the ``excluded`` alias of every column) that the compiled-statement cache does
not save: the cache only skips compiling a statement already built. A turn used to build
five of them (the counter upsert, the journal row, its conversation row, the outcome
update, the tracker read) and spent more time building than SQLite spent executing them.
Here each is built once, with bound parameters in place of values, so a turn only binds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store.tables import conversations, events, inbound_messages


def _insert(dialect: str, table: Any) -> Any:
    return postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)


@cache
def counter_upsert(dialect: str) -> Any:
    """Create the conversation or bump its ``last_seq`` by ``last_seq``; returns the new
    ``last_seq``. Parameters: the ``conversations`` columns. The conflict update row-locks
    the conversation until commit: that lock is what serialises concurrent appenders."""
    upsert = _insert(dialect, conversations)
    return upsert.on_conflict_do_update(
        index_elements=[conversations.c.id],
        set_={
            "last_seq": conversations.c.last_seq + upsert.excluded.last_seq,
            "updated_at": upsert.excluded.updated_at,
        },
    ).returning(conversations.c.last_seq)


@cache
def conversation_insert(dialect: str) -> Any:
    """Create the conversation unless it exists. Parameters: the ``conversations`` columns."""
    return _insert(dialect, conversations).on_conflict_do_nothing(index_elements=[conversations.c.id])


@cache
def journal_insert(dialect: str) -> Any:
    """Journal an inbound message unless its (conversation, message id) is there; returns the
    new row's id (none for a duplicate). Parameters: the ``inbound_messages`` columns."""
    return (
        _insert(dialect, inbound_messages)
        .on_conflict_do_nothing(
            index_elements=[inbound_messages.c.conversation_id, inbound_messages.c.message_id]
        )
        .returning(inbound_messages.c.id)
    )


@cache
def journal_with_conversation() -> Any:
    """PostgreSQL: :func:`conversation_insert` and :func:`journal_insert` as ONE statement, one
    round trip instead of two; returns the new journal row's id (none for a duplicate). The
    conversation row is written in a data-modifying CTE; the journal row's foreign key is
    checked at the end of the statement, when that row exists. Parameters: the
    ``inbound_messages`` columns, and the conversation's ``c_id``, ``c_channel``,
    ``c_sender_id``, ``c_created_at``, ``c_updated_at``."""
    conversation = (
        postgresql_insert(conversations)
        .values(
            id=bindparam("c_id"),
            channel=bindparam("c_channel"),
            sender_id=bindparam("c_sender_id"),
            created_at=bindparam("c_created_at"),
            updated_at=bindparam("c_updated_at"),
            last_seq=0,
        )
        .on_conflict_do_nothing(index_elements=[conversations.c.id])
        .cte("new_conversation")
    )
    journal = inbound_messages.c
    return (
        postgresql_insert(inbound_messages)
        .values(
            conversation_id=bindparam("j_conversation_id"),
            message_id=bindparam("j_message_id"),
            channel=bindparam("j_channel"),
            received_at=bindparam("j_received_at"),
            status=bindparam("j_status"),
            payload=bindparam("j_payload", type_=journal.payload.type),
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[journal.conversation_id, journal.message_id])
        .returning(journal.id)
        .add_cte(conversation)
    )


@cache
def mark_update() -> Any:
    """Set an inbound message's outcome. Parameters: ``m_conversation``, ``m_message``,
    ``m_status``, ``m_error``, ``m_at``."""
    journal = inbound_messages.c
    return (
        update(inbound_messages)
        .where(
            journal.conversation_id == bindparam("m_conversation"),
            journal.message_id == bindparam("m_message"),
        )
        .values(status=bindparam("m_status"), error=bindparam("m_error"), processed_at=bindparam("m_at"))
    )


@cache
def log_tail() -> Any:
    """A conversation's ``last_seq`` with each of its events after ``r_after`` up to that seq,
    in ONE statement (so one consistent read): a row per event, or one row with a NULL
    ``seq`` when there is none; no row for an unknown conversation. Parameters:
    ``r_conversation``, ``r_after``."""
    c, e = conversations.c, events.c
    joined = conversations.outerjoin(
        events, (e.conversation_id == c.id) & (e.seq > bindparam("r_after")) & (e.seq <= c.last_seq)
    )
    return (
        select(c.last_seq, e.seq, e.data)
        .select_from(joined)
        .where(c.id == bindparam("r_conversation"))
        .order_by(e.seq)
    )
