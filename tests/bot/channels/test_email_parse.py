"""MIME to what the bot needs: sender, thread ids, the new text, attachments, machine-sent mail."""

from __future__ import annotations

import pytest

from bot.channels.email.parse import html_to_text, message_ids, parse_email, subject_topic
from bot.errors import BadPayload

from .email_helpers import fixture_mail

OURS = "<concierge.00000000000000000000000000000001@mariia-hub.test>"


def test_a_plain_mail_gives_sender_thread_ids_and_text_without_signature() -> None:
    parsed = parse_email(fixture_mail("new_hello.eml"))
    assert (parsed.sender, parsed.sender_name) == ("ana.kowalska@example.com", "Ana Kowalska")
    assert parsed.message_id == "<CAF1ana-0001@mail.example.com>"
    assert parsed.subject == "Question"
    assert parsed.text == "hello"
    assert parsed.in_reply_to == [] and parsed.references == [] and parsed.thread_ids == []
    assert parsed.automated is None and parsed.attachments == [] and not parsed.from_html
    assert parsed.date is not None and parsed.date.isoformat() == "2026-11-23T09:15:00+01:00"


def test_a_reply_prefers_the_plain_part_and_lists_what_it_answers_nearest_first() -> None:
    parsed = parse_email(fixture_mail("gmail_reply.eml", IN_REPLY_TO=OURS))
    assert parsed.text == "when are you open"
    assert parsed.thread_ids == [OURS, "<CAF1ana-0001@mail.example.com>"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("outlook_reply.eml", "Thank you, see you on Friday.\n\nOlena"),
        ("polish_reply.eml", "Czy mogę przełożyć wizytę na sobotę?"),
        ("ukrainian_reply.eml", "Дякую, буду о 10:00."),
    ],
)
def test_quoted_history_is_cut_in_every_language(name: str, text: str) -> None:
    assert parse_email(fixture_mail(name)).text == text


def test_encoded_headers_are_decoded() -> None:
    parsed = parse_email(fixture_mail("ukrainian_reply.eml"))
    assert (parsed.sender_name, parsed.subject) == ("Олена", "Re: Запис")
    assert subject_topic(parsed.subject) == "Запис"


def test_an_html_only_mail_becomes_readable_text() -> None:
    parsed = parse_email(fixture_mail("html_only.eml"))
    assert parsed.from_html
    assert parsed.text == (
        "Dzień dobry,\n\n"
        "what are your opening hours on Sunday? I would like to book a massage.\n\n"
        "  * 1. Saturday\n"
        "  * 2. Sunday"
    )
    for noise in ("<", "color:", "alert", "https://", "**", "\\"):
        assert noise not in parsed.text


def test_html_conversion_drops_markup_but_keeps_paragraphs() -> None:
    assert html_to_text("<p>A &amp; B</p><p>1. first<br>2. second</p><table><tr><td>x</td></tr></table>") == (
        "A & B\n\n1. first\n2. second\n\nx"
    )


def test_attachments_come_with_name_type_kind_and_bytes() -> None:
    parsed = parse_email(fixture_mail("with_attachments.eml"))
    assert parsed.text == "Here is the photo and my voucher."
    assert [(a.name, a.mime_type, a.kind) for a in parsed.attachments] == [
        ("nails.png", "image/png", "image"),
        ("bon podarunkowy ł.pdf", "application/pdf", "document"),
    ]
    assert parsed.attachments[0].content.startswith(b"\x89PNG")
    assert parsed.attachments[1].content.startswith(b"%PDF")


def test_an_attached_mail_is_one_document_not_read_into_the_body() -> None:
    raw = (
        b"From: a@example.com\r\nMessage-ID: <outer@x>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: b@example.com\r\nSubject: inner\r\n\r\ninner body\r\n"
        b"--B--\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.text == "see attached"
    (attached,) = parsed.attachments
    assert (attached.name, attached.mime_type, attached.kind) == (
        "message-1.eml",
        "message/rfc822",
        "document",
    )
    assert b"inner body" in attached.content


@pytest.mark.parametrize(
    ("name", "reason"),
    [("auto_reply.eml", "Auto-Submitted: auto-replied"), ("bounce.eml", "delivery report")],
)
def test_machine_sent_mail_is_recognised(name: str, reason: str) -> None:
    assert parse_email(fixture_mail(name)).automated == reason


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("X-Autoreply: yes", "X-Autoreply"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Return-Path: <>", "null return path (a bounce)"),
    ],
)
def test_other_automation_markers(header: str, reason: str) -> None:
    raw = f"From: a@example.com\r\nMessage-ID: <m@x>\r\n{header}\r\n\r\nhi\r\n".encode()
    assert parse_email(raw).automated == reason
    daemon = b"From: MAILER-DAEMON@mx.example.com\r\nMessage-ID: <m@x>\r\n\r\nfailed\r\n"
    assert parse_email(daemon).automated == "sender mailer-daemon"
    assert parse_email(b"From: a@example.com\r\nAuto-Submitted: no\r\n\r\nhi\r\n").automated is None


def test_a_mail_without_message_id_gets_a_stable_one_from_its_bytes() -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n"
    first, again = parse_email(raw), parse_email(raw)
    assert first.message_id == again.message_id and first.message_id.endswith("@no-message-id.concierge>")
    assert parse_email(raw + b"more\r\n").message_id != first.message_id


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"Subject: no sender\r\n\r\nhello\r\n", "no sender"),
        (b"From: not an address\r\n\r\nhello\r\n", "no sender"),
        (b"just some text without headers", "no headers"),
    ],
)
def test_unusable_mail_is_a_bad_payload_that_says_why(raw: bytes, mentions: str) -> None:
    with pytest.raises(BadPayload, match=mentions):
        parse_email(raw)


def test_a_lying_charset_does_not_lose_the_message() -> None:
    raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nhello \xff\r\n"
    assert parse_email(raw).text.startswith("hello")


def test_thread_header_helpers() -> None:
    assert message_ids("<a@x>  <b@y>\r\n <c@z>") == ["<a@x>", "<b@y>", "<c@z>"]
    assert message_ids("garbage") == []
    for subject in ("Re: Booking", "RE: Fwd: Booking", "Odp: Booking", "AW: Booking", "Re[2]: Booking"):
        assert subject_topic(subject) == "Booking"


def test_an_html_only_reply_loses_its_quoted_history_too() -> None:
    gmail = (
        b"From: a@example.com\r\nMessage-ID: <h1@x>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<div dir="ltr">Friday works for me.</div><br><div class="gmail_quote"><div class="gmail_attr">'
        b"On Mon, 23 Nov 2026 at 18:02, Mariia Hub &lt;hello@mariia-hub.test&gt; wrote:<br></div>"
        b'<blockquote class="gmail_quote">Shall we book Friday?</blockquote></div>\r\n'
    )
    outlook = (
        b"From: a@example.com\r\nMessage-ID: <h2@x>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<div>Dzi\xc4\x99kuj\xc4\x99!</div><hr><div id="divRplyFwdMsg"><b>Od:</b> Mariia Hub<br>'
        b"<b>Wys\xc5\x82ano:</b> 23 listopada 2026 18:02<br><b>Do:</b> Jan<br><b>Temat:</b> Rezerwacja</div>"
        b"<div>Zarezerwowane.</div>\r\n"
    )
    assert parse_email(gmail).text == "Friday works for me."
    assert parse_email(outlook).text == "Dziękuję!"
