"""The email channel on the real engine, with a real IMAP server (dovecot) and SMTP server (aiosmtpd).

What a client sees (the exact mail bytes our SMTP server received) and what is stored
(the conversation's events, the outbox), for mail fetched over IMAP and mail posted to
the inbound-parse webhook.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from bot.channels.addresses import AddressBook, is_opaque
from bot.engine import Engine
from bot.events import UserUttered
from bot.models import VerifiedIdentity
from bot.settings import Settings
from privacy.erasers import default_erasers
from privacy.service import PrivacyService

from .email_helpers import (
    ADDRESS,
    email_app,
    email_credentials,
    fixture_mail,
    our_id,
    post_mail,
    settle,
    wait_until,
)
from .email_servers import Dovecot, RecordingHandler, running_dovecot, running_smtp
from .helpers import HOURS, WELCOME, conversation_of, journal, sender_of, traces_of

ANA_MAIL = "ana.kowalska@example.com"


async def ana(engine: Engine) -> str:
    """The conversation of ANA_MAIL: its id is opaque (bot.channels.addresses)."""
    return await conversation_of(engine, "email", ANA_MAIL)


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, RecordingHandler]]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


async def marked_read(dovecot: Dovecot, uid: int) -> None:
    for _ in range(600):
        if (await asyncio.to_thread(dovecot.flags)).get(uid) == {"\\Seen"}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"mail {uid} was never marked read")


async def client_messages(engine: Engine, conversation_id: str) -> list[UserUttered]:
    return [e for e in await engine.store.events(conversation_id) if isinstance(e, UserUttered)]


async def test_a_mail_fetched_over_imap_is_answered_by_smtp_in_the_same_thread(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    dovecot: Dovecot,
) -> None:
    controller, received = smtp
    uid = await asyncio.to_thread(dovecot.deliver, fixture_mail("new_hello.eml"))
    credentials = email_credentials(smtp_port=controller.port, imap=dovecot, webhook=False)
    async with email_app(trained, engine, tmp_path, credentials) as (_url, _app, channel):
        await wait_until(lambda: len(received.received) == 1, "the reply at the SMTP server")
        await settle(channel)

    (reply,) = received.received
    assert reply.mail_from == ADDRESS and reply.rcpt_tos == ["ana.kowalska@example.com"]
    assert reply.data == (
        b"From: Mariia Hub <hello@mariia-hub.test>\r\n"
        b"To: Ana Kowalska <ana.kowalska@example.com>\r\n"
        b"Subject: Re: Question\r\n"
        b"Date: Mon, 23 Nov 2026 08:16:00 +0000\r\n"
        b"Message-ID: " + our_id(1).encode() + b"\r\n"
        b"In-Reply-To: <CAF1ana-0001@mail.example.com>\r\n"
        b"References: <CAF1ana-0001@mail.example.com>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"X-Auto-Response-Suppress: All\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"MIME-Version: 1.0\r\n"
        b"\r\n"
        b"Welcome to Mariia Hub! How can I help?\r\n"
        b"\r\n"
        b"Reply 1 for Opening hours\r\n"
    )
    # stored once, read by the bot, signature cut, identity hints for the client profile
    (stored,) = await client_messages(engine, await ana(engine))
    assert stored.text == "hello"
    assert stored.message_id == "<CAF1ana-0001@mail.example.com>"
    assert stored.metadata["unverified_contact"] == {"name": "Ana Kowalska"}  # the display name
    [handed_over] = await journal(engine, await ana(engine))
    assert handed_over.identities == [
        VerifiedIdentity(kind="email", value="ana.kowalska@example.com", proof="provider")
    ]
    assert stored.metadata["email_subject"] == "Question"
    assert [(e.sender, e.text) for e in await engine.history(await ana(engine))] == [
        ("client", "hello"),
        ("bot", WELCOME),
    ]
    # marked read in the mailbox only now that it is stored
    assert (await asyncio.to_thread(dovecot.flags))[uid] == {"\\Seen"}


async def test_a_thread_of_three_mails_stays_one_conversation_without_the_quoted_history(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    dovecot: Dovecot,
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port, imap=dovecot, webhook=False)
    async with email_app(trained, engine, tmp_path, credentials) as (_url, _app, channel):
        await asyncio.to_thread(dovecot.deliver, fixture_mail("new_hello.eml"))  # 1: the client writes
        await wait_until(lambda: len(received.received) == 1, "the bot's first reply")  # 2: the bot answers
        answer = fixture_mail("gmail_reply.eml", IN_REPLY_TO=our_id(1))
        await asyncio.to_thread(dovecot.deliver, answer)  # 3: the client answers that
        await wait_until(lambda: len(received.received) == 2, "the bot's second reply")
        await settle(channel)

    conversations = [c.id for c in await engine.store.conversations() if c.id.startswith("email:")]
    assert conversations == [await ana(engine)]
    assert [(e.sender, e.text) for e in await engine.history(await ana(engine))] == [
        ("client", "hello"),
        ("bot", WELCOME),
        ("client", "when are you open"),  # no "On ... wrote:", no "> Welcome ...", no "Sent from my iPhone"
        ("bot", HOURS),
    ]
    second = email.message_from_bytes(received.received[1].data, policy=email.policy.default)
    assert second["Subject"] == "Re: Question"
    assert second["In-Reply-To"] == "<CAF1ana-0002@mail.example.com>"
    assert (
        second["References"] == f"<CAF1ana-0001@mail.example.com> {our_id(1)} <CAF1ana-0002@mail.example.com>"
    )
    assert second["Message-ID"] == our_id(2)
    assert second.get_content().replace("\r\n", "\n") == HOURS + "\n"


async def test_an_inbound_parse_post_without_the_secret_is_refused_and_nothing_is_stored(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, app, channel):
        raw = fixture_mail("new_hello.eml")
        for auth in (None, ("inbound", "wrong-password-123"), ("someone", "webhook-secret-1234")):
            response = await post_mail(url, raw, auth=auth)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Basic realm="concierge-email"'
            assert response.json() == {"error": "unauthorized", "message": "valid credentials required"}
        await settle(channel)
        assert channel.stats.refused == 3
        assert await engine.store.conversations() == []
        assert await app.state.outbox.rows() == []
    assert received.received == []


async def test_without_an_inbound_webhook_section_every_post_is_refused(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    dovecot: Dovecot,
) -> None:
    controller, _received = smtp
    credentials = email_credentials(smtp_port=controller.port, imap=dovecot, webhook=False)
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, _channel):
        response = await post_mail(url, fixture_mail("new_hello.eml"))
    assert response.status_code == 401
    assert await engine.store.conversations() == []


async def test_the_same_mail_delivered_twice_gets_one_reply(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    dovecot: Dovecot,
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port, imap=dovecot)
    raw = fixture_mail("new_hello.eml")
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        first = await post_mail(url, raw)
        again = await post_mail(url, raw)  # the provider retries
        uid = await asyncio.to_thread(dovecot.deliver, raw)  # and the same mail lands in the mailbox
        await marked_read(dovecot, uid)  # the poller took it: stored once already, so marked read
        await settle(channel)
    assert (first.status_code, first.json()) == (200, {"status": "ok", "result": "stored"})
    assert (again.status_code, again.json()) == (200, {"status": "ok", "result": "duplicate"})
    assert len(received.received) == 1
    assert [m.text for m in await client_messages(engine, await ana(engine))] == ["hello"]


async def test_a_send_refused_twice_with_451_is_delivered_once(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, received = smtp
    received.fail_next = 2
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, app, channel):
        assert (await post_mail(url, fixture_mail("new_hello.eml"))).status_code == 200
        await settle(channel)
        (row,) = await app.state.outbox.rows()
    assert received.refused == 2
    assert len(received.received) == 1
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 3, our_id(3))
    assert b"Message-ID: " + our_id(3).encode() in received.received[0].data


async def test_a_permanent_smtp_refusal_is_not_retried(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, received = smtp
    received.fail_next = 5
    received.failure = "550 5.1.1 Mailbox unavailable"
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, app, channel):
        await post_mail(url, fixture_mail("new_hello.eml"))
        await settle(channel)
        (row,) = await app.state.outbox.rows()
    assert (row.status, row.attempts, received.refused) == ("failed", 1, 1)
    assert row.last_error is not None and "550 5.1.1 Mailbox unavailable" in row.last_error
    assert received.received == []


async def test_an_html_only_mail_is_stored_as_readable_text(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, _received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        await post_mail(url, fixture_mail("html_only.eml"))
        await settle(channel)
    (stored,) = await client_messages(engine, await conversation_of(engine, "email", "zofia@example.pl"))
    assert stored.text == (
        "Dzień dobry,\n\n"
        "what are your opening hours on Sunday? I would like to book a massage.\n\n"
        "  * 1. Saturday\n"
        "  * 2. Sunday"
    )
    assert stored.metadata["email_body"] == "html"
    assert stored.metadata["email_subject"] == "Godziny otwarcia"


@pytest.mark.parametrize("name", ["auto_reply.eml", "bounce.eml"])
async def test_machine_sent_mail_is_acknowledged_but_never_answered(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler], name: str
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        response = await post_mail(url, fixture_mail(name))
        await settle(channel)
    assert (response.status_code, response.json()) == (200, {"status": "ok", "result": "ignored"})
    assert await engine.store.conversations() == []
    assert received.received == []


async def test_our_own_mail_is_never_ingested(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        await post_mail(url, fixture_mail("new_hello.eml"))
        await settle(channel)
        (sent,) = received.received
        # a copy of our reply comes back (a Bcc to the support mailbox, a forwarding rule)
        echoed = await post_mail(url, sent.data)
        await settle(channel)
    assert echoed.json() == {"status": "ok", "result": "ignored"}
    assert [(e.sender, e.text) for e in await engine.history(await ana(engine))] == [
        ("client", "hello"),
        ("bot", WELCOME),
    ]
    assert len(received.received) == 1


async def test_a_numbered_answer_chooses_the_option_of_the_mail_it_answers(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    answer = (
        b"From: Ana Kowalska <ana.kowalska@example.com>\r\n"
        b"To: hello@mariia-hub.test\r\n"
        b"Subject: Re: Question\r\n"
        b"Message-ID: <CAF1ana-0003@mail.example.com>\r\n"
        b"In-Reply-To: " + our_id(1).encode() + b"\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"1\r\n\r\n> Welcome to Mariia Hub! How can I help?\r\n> Reply 1 for Opening hours\r\n"
    )
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        await post_mail(url, fixture_mail("new_hello.eml"))
        await settle(channel)
        await post_mail(url, answer)
        await settle(channel)
    chosen = (await client_messages(engine, await ana(engine)))[-1]
    assert chosen.text == "/ask_hours"
    assert (chosen.metadata["title"], chosen.metadata["typed"]) == ("Opening hours", "1")
    assert [e.text for e in await engine.history(await ana(engine))][-1] == HOURS
    assert received.received[-1].data.endswith(HOURS.encode() + b"\r\n")


async def test_an_answer_from_another_address_continues_the_conversation(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    from_work = fixture_mail("gmail_reply.eml", IN_REPLY_TO=our_id(1)).replace(
        b"From: Ana Kowalska <ana.kowalska@example.com>", b"From: Ana Kowalska <ana@work.example>"
    )
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        await post_mail(url, fixture_mail("new_hello.eml"))
        await settle(channel)
        await post_mail(url, from_work)
        await settle(channel)
    assert [c.id for c in await engine.store.conversations()] == [await ana(engine)]
    latest = (await journal(engine, await ana(engine)))[-1]
    assert [i.value for i in latest.identities] == ["ana@work.example"]
    assert received.received[-1].rcpt_tos == ["ana@work.example"]  # answered where she wrote from


@pytest.mark.parametrize(
    ("body", "content_type", "mentions"),
    [
        (b'{"email": "x"}', "application/json", "multipart/form-data"),
        (None, None, "'email' field"),
    ],
)
async def test_an_unreadable_post_gets_a_400_and_nothing_is_stored(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    body: bytes | None,
    content_type: str | None,
    mentions: str,
) -> None:
    import httpx

    from .email_helpers import WEBHOOK_PASSWORD, WEBHOOK_USER

    controller, _received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, _channel):
        async with httpx.AsyncClient(base_url=url, auth=(WEBHOOK_USER, WEBHOOK_PASSWORD)) as client:
            if body is None:  # a form without the raw message
                response = await client.post("/webhooks/email/webhook", files={"to": (None, b"x")})
            else:
                response = await client.post(
                    "/webhooks/email/webhook", content=body, headers={"content-type": content_type or ""}
                )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload" and mentions in response.json()["message"]
    assert await engine.store.conversations() == []


async def test_attachments_are_stored_and_shown_only_to_signed_in_agents(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    import json

    import httpx

    from tests.console.conftest import add_user, sign_in

    controller, _received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    raw = fixture_mail("with_attachments.eml")
    parts = {
        p.get_filename(): p.get_content()
        for p in email.message_from_bytes(raw, policy=email.policy.default).iter_attachments()
    }
    async with email_app(trained, engine, tmp_path, credentials) as (url, app, channel):
        await post_mail(url, raw)
        await settle(channel)
        (stored,) = await client_messages(engine, await ana(engine))
        listed = json.loads(stored.metadata["attachments"])
        assert [(a["kind"], a["name"], a["mime_type"]) for a in listed] == [
            ("image", "nails.png", "image/png"),
            ("document", "bon podarunkowy ł.pdf", "application/pdf"),
        ]
        assert stored.text == "Here is the photo and my voucher."
        image_url, pdf_url = (a["url"] for a in listed)
        platform = await app.state.console.ready()
        await add_user(platform, "anna.kowalska", "agent")
        await add_user(platform, "ewa", "editor")
        async with httpx.AsyncClient(base_url=url) as anonymous:  # a browser is sent to sign in
            refused = await anonymous.get(image_url)
            assert refused.status_code == 303 and refused.headers["location"].startswith("/console/login")
        async with httpx.AsyncClient(base_url=url) as editor:
            await sign_in(editor, "ewa")
            assert (await editor.get(image_url)).status_code == 403
        async with httpx.AsyncClient(base_url=url) as agent:
            await sign_in(agent, "anna.kowalska")
            image = await agent.get(image_url)
            pdf = await agent.get(pdf_url)
            missing = await agent.get("/webhooks/email/attachments/" + "0" * 64)
    assert (image.status_code, image.headers["content-type"], image.content) == (
        200,
        "image/png",
        parts["nails.png"],
    )
    assert image.headers["content-disposition"].startswith("inline")
    assert image.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-type"] == "application/octet-stream"
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert pdf.content == parts["bon podarunkowy ł.pdf"]
    assert missing.status_code == 404


async def test_an_agent_reply_goes_out_in_the_clients_thread_as_a_person_wrote_it(
    trained: Settings, engine: Engine, tmp_path: Path, smtp: tuple[Controller, RecordingHandler]
) -> None:
    from bot.models import OutboundMessage

    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, app, channel):
        await post_mail(url, fixture_mail("new_hello.eml"))
        await settle(channel)
        agent_reply = OutboundMessage(
            channel="email",
            recipient_id=await sender_of(engine, "email", ANA_MAIL),
            text="Hi Ana, Marta here.",
            sender="agent",
        )
        await app.state.channels["email"].send(agent_reply)  # what the console does for an agent
        await settle(channel)
    assert len(received.received) == 2
    sent = email.message_from_bytes(received.received[1].data, policy=email.policy.default)
    assert (sent["To"], sent["Subject"], sent["In-Reply-To"]) == (
        "Ana Kowalska <ana.kowalska@example.com>",
        "Re: Question",
        "<CAF1ana-0001@mail.example.com>",
    )
    assert sent["Auto-Submitted"] is None
    assert sent.get_content().replace("\r\n", "\n") == "Hi Ana, Marta here.\n"


async def test_health_shows_the_mailbox_state(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    dovecot: Dovecot,
) -> None:
    import httpx

    controller, _received = smtp
    working = email_credentials(smtp_port=controller.port, imap=dovecot, webhook=False)
    async with email_app(trained, engine, tmp_path, working) as (url, _app, channel):
        await wait_until(
            lambda: channel.poller is not None and channel.poller.last_poll_at is not None, "a poll"
        )
        async with httpx.AsyncClient(base_url=url) as client:
            healthy = (await client.get("/health")).json()["components"]["channel:email"]
    broken_mailbox = Dovecot(dovecot.host, dovecot.port, dovecot.user, "not-the-password", dovecot.root)
    broken = email_credentials(smtp_port=controller.port, imap=broken_mailbox, webhook=False)
    async with email_app(trained, engine, tmp_path / "again", broken) as (url, _app, channel):
        await wait_until(lambda: channel.poller is not None and channel.poller.failures > 0, "a failed poll")
        async with httpx.AsyncClient(base_url=url) as client:
            failing = (await client.get("/health")).json()["components"]["channel:email"]
    assert healthy["status"] == "ok" and "IMAP polled" in healthy["detail"]
    assert (
        failing["status"] == "degraded"
        and "IMAP failing: ChannelError: IMAP login failed" in failing["detail"]
    )


async def test_ids_outbox_rows_urls_and_logs_carry_no_address_and_erase_forgets_it(
    trained: Settings,
    engine: Engine,
    tmp_path: Path,
    smtp: tuple[Controller, RecordingHandler],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    controller, received = smtp
    credentials = email_credentials(smtp_port=controller.port)
    async with email_app(trained, engine, tmp_path, credentials) as (url, _app, channel):
        assert (await post_mail(url, fixture_mail("new_hello.eml"))).status_code == 200
        await settle(channel)
    (reply,) = received.received
    assert reply.rcpt_tos == [ANA_MAIL]  # the address reached the mail server
    conversation_id = await ana(engine)
    assert is_opaque(conversation_id)
    assert [c.id for c in await engine.store.conversations()] == [conversation_id]
    # ... and is on file in one table; nowhere else (ids, console URLs, outbox rows, logs)
    assert await traces_of(engine, ANA_MAIL, caplog.records) == []
    book = AddressBook(engine.store.engine)
    assert await book.address(conversation_id) == ANA_MAIL

    report = await PrivacyService(engine.store.engine, erasers=default_erasers([])).erase(ANA_MAIL, actor="t")
    assert report.conversations == 1 and report.removed["channel_addresses"] == 1
    assert await book.address(conversation_id) is None
