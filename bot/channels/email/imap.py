"""Inbound mail by IMAP polling (``aioimaplib``): every new mail once, marked read once stored.

Each round selects the mailbox and asks for UIDs above the last one handled (``UID
SEARCH UID <last+1>:*``). The cursor (UIDVALIDITY and last UID) is kept in a small JSON
file under the state dir, so a restart does not re-read the mailbox; if the server's
UIDVALIDITY changes (the mailbox was rebuilt), or on the very first round, the unread
(``UNSEEN``) mails are taken instead and the cursor restarts at the mailbox's end. Either
way, a re-read mail is harmless: messages are deduplicated by Message-ID when stored.

A mail is fetched with ``BODY.PEEK[]`` (fetching does not mark it read) and handed to the
sink; only when the sink says it was stored for the bot is it flagged ``\\Seen``. Mail
the bot must not answer (auto-replies, bounces, our own, unreadable) stays unread in the
mailbox for a person to look at; the cursor moves past it either way. If the sink fails
(the database is away), the round stops without moving the cursor and the next round
tries again.

The connection is kept between rounds and re-opened after any failure, with growing
pauses (up to five minutes) while the server keeps failing. aioimaplib has no STARTTLS:
use implicit TLS (``ssl: true``, port 993) for anything but loopback. IDLE is not used:
the poll interval is the latency.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aioimaplib

from bot.channels.email.config import ImapConfig
from bot.errors import ChannelError
from bot.leases import RoundLease
from bot.periodic import cancel_and_wait

__all__ = ["ImapCursor", "ImapPoller", "MailSink"]

log = logging.getLogger(__name__)

MailSink = Callable[[bytes], Awaitable[bool]]  # True: stored for the bot, mark it read
MAX_PAUSE = 300.0
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")


@dataclass
class CursorState:
    """Where a mailbox was left: its UIDVALIDITY and the last UID handled."""

    uidvalidity: int
    last_uid: int


class ImapCursor:
    """A mailbox's cursor in a JSON file (one file can hold several mailboxes)."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    async def load(self) -> CursorState | None:
        """The saved state, or None when there is none yet."""
        return await asyncio.to_thread(self._load)

    async def save(self, state: CursorState) -> None:
        """Replace the saved state atomically."""
        await asyncio.to_thread(self._save, state)

    def _all(self) -> dict[str, dict[str, int]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _load(self) -> CursorState | None:
        entry = self._all().get(self.key)
        if not isinstance(entry, dict):
            return None
        try:
            return CursorState(uidvalidity=int(entry["uidvalidity"]), last_uid=int(entry["last_uid"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _save(self, state: CursorState) -> None:
        data = self._all()
        data[self.key] = {"uidvalidity": state.uidvalidity, "last_uid": state.last_uid}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cursor-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class ImapPoller:
    """Polls one mailbox and feeds each new mail to a sink."""

    def __init__(
        self,
        config: ImapConfig,
        cursor: ImapCursor,
        sink: MailSink,
        *,
        ssl_context: ssl.SSLContext | None = None,
        lease: RoundLease | None = None,
    ) -> None:
        self.config = config
        self.cursor = cursor
        self.sink = sink
        self.ssl_context = ssl_context
        self.lease = lease  # several processes: each round is polled by one of them
        self._client: aioimaplib.IMAP4 | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_poll_at: datetime | None = None
        self.last_error: str | None = None
        self.failures = 0

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Poll in a background task until :meth:`close`."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="email-imap-poller")

    def wake(self) -> None:
        """Poll now instead of at the end of the interval."""
        self._wake.set()

    async def close(self) -> None:
        """Stop polling and log out."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        await self._disconnect()

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
                pause = self.config.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("email: IMAP round failed (%d in a row): %s", self.failures, self.last_error)
                await self._disconnect()
                pause = min(MAX_PAUSE, self.config.poll_interval * 2 ** min(self.failures - 1, 10))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except TimeoutError:
                pass

    # ---- one round -----------------------------------------------------------------
    async def _round(self) -> None:
        """A round, unless another process holds this mailbox's lease for it."""
        if self.lease is None:
            await self.poll_once()
            return
        async with self.lease.round() as mine:
            if mine:
                await self.poll_once()

    async def poll_once(self) -> int:
        """Fetch every new mail and hand it to the sink; how many the sink stored."""
        client = await self._connect()
        selected = await client.select(self.config.mailbox)
        _ok(selected, f"SELECT {self.config.mailbox}")
        uidvalidity = _number(_UIDVALIDITY, selected.lines)
        uidnext = _number(_UIDNEXT, selected.lines)
        if uidvalidity is None:
            raise ChannelError("IMAP server did not report UIDVALIDITY", retryable=True)
        state = await self.cursor.load()
        if state is not None and state.uidvalidity == uidvalidity:
            uids = [
                uid
                for uid in await self._search(client, f"UID {state.last_uid + 1}:*")
                if uid > state.last_uid
            ]
            baseline = state.last_uid
        else:
            if state is not None:
                log.warning("email: mailbox UIDVALIDITY changed; reading its unread mail again")
            uids = await self._search(client, "UNSEEN")
            baseline = (uidnext - 1) if uidnext else max(await self._search(client, "ALL"), default=0)
        stored = 0
        last = baseline
        for uid in sorted(uids):
            raw = await self._fetch(client, uid)
            if raw is not None and await self.sink(raw):
                _ok(await client.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)"), "STORE \\Seen")
                stored += 1
            last = max(last, uid)
            await self.cursor.save(CursorState(uidvalidity=uidvalidity, last_uid=last))
        if state is None or state.uidvalidity != uidvalidity or last != state.last_uid:
            await self.cursor.save(CursorState(uidvalidity=uidvalidity, last_uid=last))
        self.last_poll_at = datetime.now(UTC)
        self.failures = 0
        self.last_error = None
        return stored

    async def _connect(self) -> aioimaplib.IMAP4:
        if self._client is not None:
            return self._client
        config = self.config
        if config.ssl:
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                host=config.host, port=config.port, timeout=config.timeout, ssl_context=self.ssl_context
            )
        else:
            client = aioimaplib.IMAP4(host=config.host, port=config.port, timeout=config.timeout)
        self._client = client
        await client.wait_hello_from_server()
        login = await client.login(config.username, config.password.get_secret_value())
        if login.result != "OK":
            raise ChannelError(
                "IMAP login failed: check the email imap username and password", retryable=False
            )
        return client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        connecting = client._client_task  # aioimaplib connects in a task of its own
        if not connecting.done():
            connecting.cancel()
        try:
            if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
                await asyncio.wait_for(client.logout(), timeout=5)
        except Exception:  # already broken: the socket is dropped below all the same
            log.debug("email: IMAP logout failed", exc_info=True)
        finally:
            # aioimaplib leaves closing to the server after LOGOUT; close our end now
            transport = getattr(client.protocol, "transport", None)
            if transport is not None:
                transport.close()

    async def _search(self, client: aioimaplib.IMAP4, criteria: str) -> list[int]:
        found = await client.uid_search(criteria, charset=None)
        _ok(found, f"UID SEARCH {criteria}")
        numbers = found.lines[0].split() if found.lines else []
        return [int(n) for n in numbers if n.isdigit()]

    async def _fetch(self, client: aioimaplib.IMAP4, uid: int) -> bytes | None:
        fetched = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
        _ok(fetched, f"UID FETCH {uid}")
        lines = fetched.lines
        for index, line in enumerate(lines[:-1]):
            if isinstance(line, bytes | bytearray) and line.rstrip().endswith(b"}"):
                literal = lines[index + 1]
                if isinstance(literal, bytes | bytearray):
                    return bytes(literal)
        log.warning("email: IMAP returned no body for UID %s (expunged meanwhile?)", uid)
        return None


def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        detail = b" ".join(bytes(line) for line in response.lines[-1:]).decode(errors="replace")
        raise ChannelError(f"IMAP {what} failed: {response.result} {detail}"[:300], retryable=True)


def _number(pattern: re.Pattern[bytes], lines: list[bytes]) -> int | None:
    for line in lines:
        found = pattern.search(bytes(line))
        if found:
            return int(found.group(1))
    return None
