"""Support for the automation tests: real databases (SQLite in a temp dir, PostgreSQL in a per-test schema)
with the demo project's handoff runtime (clients, agents) and a real SMTP server."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.live import InProcessFeed
from bot.loaders import load_domain
from bot.locks import InMemoryLockStore
from bot.store import EventStore
from bot.writer import ConversationWriter
from console.audit import AuditLog
from handoff.presence import InMemoryPresence
from handoff.runtime import HandoffRuntime, build_handoff


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Mailbox:
    """aiosmtpd handler keeping every accepted message (sender, recipients, bytes)."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(
            (str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or b""))
        )
        return "250 2.0.0 OK: queued"


@contextlib.contextmanager
def running_smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


async def runtime_on(
    store: EventStore, repo_dir: Path, clock: Clock, presence: InMemoryPresence | None = None
) -> HandoffRuntime:
    """The demo project's handoff runtime appending to ``store`` (clients imported once)."""
    writer = ConversationWriter(store, InMemoryLockStore(), InProcessFeed())
    runtime = await build_handoff(
        writer,
        repo_dir,
        domain=load_domain([repo_dir / "domain.yml"]),
        nlg=None,
        sentiment=None,
        clock=clock,
        presence=presence or InMemoryPresence(),
        audit=AuditLog(store.engine),
    )
    assert runtime is not None
    return runtime
