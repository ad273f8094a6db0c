"""IMAP polling against a real dovecot: what is read, when it is marked read, what a restart does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.channels.email.config import ImapConfig
from bot.channels.email.imap import CursorState, ImapCursor, ImapPoller
from bot.errors import ChannelError

from .email_servers import Dovecot, running_dovecot

SEEN = "\\Seen"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def mail(n: int) -> bytes:
    return (
        f"From: Client {n} <client{n}@example.com>\r\nTo: hello@mariia-hub.test\r\n"
        f"Subject: Mail {n}\r\nMessage-ID: <mail-{n}@example.com>\r\n\r\nbody {n}\r\n"
    ).encode()


def imap_config(dovecot: Dovecot, password: str | None = None) -> ImapConfig:
    return ImapConfig(
        host=dovecot.host,
        port=dovecot.port,
        ssl=False,
        username=dovecot.user,
        password=password or dovecot.password,  # type: ignore[arg-type]
        poll_interval=0.1,
        timeout=5,
    )


class Sink:
    """Collects mails; answers ``store`` (True: stored for the bot) or raises ``fail`` once."""

    def __init__(self, store: bool = True) -> None:
        self.store = store
        self.mails: list[bytes] = []
        self.fail: Exception | None = None

    async def __call__(self, raw: bytes) -> bool:
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        self.mails.append(raw)
        return self.store


def poller_for(dovecot: Dovecot, cursor_file: Path, sink: Sink, password: str | None = None) -> ImapPoller:
    return ImapPoller(imap_config(dovecot, password), ImapCursor(cursor_file, "inbox"), sink)


async def test_the_first_round_reads_unread_mail_and_marks_it_read_only_once_stored(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    read_before = dovecot.deliver(mail(1), flags=SEEN)  # was there before the channel was set up
    unread = dovecot.deliver(mail(2))
    sink = Sink()
    poller = poller_for(dovecot, tmp_path / "cursor.json", sink)
    try:
        assert await poller.poll_once() == 1
        assert await poller.poll_once() == 0  # nothing new
    finally:
        await poller.close()
    assert sink.mails == [mail(2)]
    assert dovecot.flags() == {read_before: {SEEN}, unread: {SEEN}}


async def test_a_restart_does_not_read_old_mail_again_but_reads_new_mail_even_if_a_person_read_it(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.deliver(mail(1))
    first = Sink()
    poller = poller_for(dovecot, tmp_path / "cursor.json", first)
    await poller.poll_once()
    await poller.close()
    dovecot.deliver(mail(2), flags=SEEN)  # arrived while we were down; someone opened it in webmail
    dovecot.deliver(mail(3))
    again = Sink()
    restarted = poller_for(dovecot, tmp_path / "cursor.json", again)
    try:
        assert await restarted.poll_once() == 2
    finally:
        await restarted.close()
    assert first.mails == [mail(1)]
    assert again.mails == [mail(2), mail(3)]
    saved = json.loads((tmp_path / "cursor.json").read_text())["inbox"]
    assert saved["last_uid"] == 3


async def test_mail_the_sink_does_not_take_stays_unread_and_is_not_offered_again(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    uid = dovecot.deliver(mail(1))
    sink = Sink(store=False)  # e.g. an auto-reply: a person may want to look at it
    poller = poller_for(dovecot, tmp_path / "cursor.json", sink)
    try:
        assert await poller.poll_once() == 0
        assert await poller.poll_once() == 0
    finally:
        await poller.close()
    assert sink.mails == [mail(1)]
    assert dovecot.flags() == {uid: set()}


async def test_when_storing_fails_the_mail_stays_unread_and_is_fetched_again(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    uid = dovecot.deliver(mail(1))
    sink = Sink()
    sink.fail = RuntimeError("database away")
    poller = poller_for(dovecot, tmp_path / "cursor.json", sink)
    try:
        with pytest.raises(RuntimeError, match="database away"):
            await poller.poll_once()
        assert dovecot.flags() == {uid: set()}
        await poller.close()  # the failed round drops the connection, as the run loop does
        assert await poller.poll_once() == 1
    finally:
        await poller.close()
    assert sink.mails == [mail(1)]
    assert dovecot.flags() == {uid: {SEEN}}


async def test_a_rebuilt_mailbox_new_uidvalidity_reads_its_unread_mail(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.deliver(mail(1))
    cursor = ImapCursor(tmp_path / "cursor.json", "inbox")
    await cursor.save(CursorState(uidvalidity=1, last_uid=500))  # from a mailbox that no longer exists
    sink = Sink()
    poller = ImapPoller(imap_config(dovecot), cursor, sink)
    try:
        assert await poller.poll_once() == 1
    finally:
        await poller.close()
    assert sink.mails == [mail(1)]


async def test_a_wrong_password_is_a_clear_final_error(dovecot: Dovecot, tmp_path: Path) -> None:
    poller = poller_for(dovecot, tmp_path / "cursor.json", Sink(), password="not-the-password")
    try:
        with pytest.raises(ChannelError, match="IMAP login failed") as raised:
            await poller.poll_once()
    finally:
        await poller.close()
    assert raised.value.retryable is False
    assert not (tmp_path / "cursor.json").exists()


async def wait_for(check: Callable[[], bool]) -> None:
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_the_background_loop_picks_up_new_mail(dovecot: Dovecot, tmp_path: Path) -> None:
    sink = Sink()
    poller = poller_for(dovecot, tmp_path / "cursor.json", sink)
    poller.start()
    try:
        await wait_for(lambda: poller.last_poll_at is not None)
        dovecot.deliver(mail(1))
        poller.wake()
        await wait_for(lambda: bool(sink.mails))
    finally:
        await poller.close()
    assert sink.mails == [mail(1)]
    assert poller.last_error is None


async def test_the_background_loop_reports_failures_and_keeps_trying(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    poller = poller_for(dovecot, tmp_path / "cursor.json", Sink(), password="not-the-password")
    poller.start()
    try:
        await wait_for(lambda: poller.failures >= 1)
    finally:
        await poller.close()
    assert poller.last_error is not None and "IMAP login failed" in poller.last_error
    assert poller.last_poll_at is None
