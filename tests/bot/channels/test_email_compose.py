"""The outgoing mail: exact bytes, threading headers, numbered options and reading them back."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from bot.channels.email.compose import (
    MAX_REFERENCES,
    ThreadHeaders,
    build_email,
    is_our_message_id,
    match_option,
    new_message_id,
    render_text,
)
from bot.channels.email.smtp import flatten
from bot.models import Attachment, Button, OutboundMessage

WHEN = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)
MID = "<concierge.0123456789abcdef0123456789abcdef@mariia-hub.test>"
BUTTONS = [
    Button(title="Rezerwacja", payload="/book"),
    Button(title="Godziny otwarcia", payload="/ask_hours"),
]


def test_an_agent_reply_in_polish_with_html_alternative_byte_for_byte() -> None:
    message = OutboundMessage(
        channel="email",
        recipient_id="jan@example.pl",
        text="Dzień dobry, zapraszamy w sobotę!",
        sender="agent",
        buttons=BUTTONS,
    )
    thread = ThreadHeaders(topic="Rezerwacja", in_reply_to="<pl-reply-0001@example.pl>", references=["<a@x>"])
    mail = build_email(
        message,
        from_address="hello@mariia-hub.test",
        from_name="Mariia Hub Kraków",
        to="jan@example.pl",
        to_name="Jan Wiśniewski",
        subject="Your message",
        thread=thread,
        message_id=MID,
        date=WHEN,
        option_line="Odpowiedz {number}: {title}",
        html_alternative=True,
    )
    wire = flatten(mail)
    head, _, _body = wire.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[:7] == [
        b"From: Mariia Hub =?utf-8?q?Krak=C3=B3w?= <hello@mariia-hub.test>",
        b"To: Jan =?utf-8?q?Wi=C5=9Bniewski?= <jan@example.pl>",
        b"Subject: Re: Rezerwacja",
        b"Date: Tue, 24 Nov 2026 17:30:00 +0000",
        b"Message-ID: " + MID.encode(),
        b"In-Reply-To: <pl-reply-0001@example.pl>",
        b"References: <a@x> <pl-reply-0001@example.pl>",
    ]
    assert b"Auto-Submitted" not in head  # a person wrote this
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    plain_part, html_part = (
        parsed.get_body(preferencelist=("plain",)),
        parsed.get_body(preferencelist=("html",)),
    )
    assert plain_part is not None and html_part is not None
    plain = plain_part.get_content().replace("\r\n", "\n")
    assert (
        plain
        == "Dzień dobry, zapraszamy w sobotę!\n\nOdpowiedz 1: Rezerwacja\nOdpowiedz 2: Godziny otwarcia\n"
    )
    html = html_part.get_content()
    assert "<p>Dzień dobry, zapraszamy w sobotę!</p>" in html
    assert "<p>Odpowiedz 1: Rezerwacja<br>Odpowiedz 2: Godziny otwarcia</p>" in html
    assert all(len(line) <= 998 for line in wire.split(b"\r\n"))


def test_a_bot_message_without_a_thread_uses_the_configured_subject_and_marks_itself_automatic() -> None:
    message = OutboundMessage(channel="email", recipient_id="ana@example.com", text="<b>not html</b> & more")
    mail = build_email(
        message,
        from_address="hello@mariia-hub.test",
        from_name=None,
        to="ana@example.com",
        subject="Mariia Hub",
        thread=None,
        message_id=MID,
        date=WHEN,
        html_alternative=True,
    )
    assert mail["Subject"] == "Mariia Hub"
    assert mail["From"] == "hello@mariia-hub.test"
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert (mail["Auto-Submitted"], mail["X-Auto-Response-Suppress"]) == ("auto-replied", "All")
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "&lt;b&gt;not html&lt;/b&gt; &amp; more" in html


def test_images_and_attachments_become_links_in_the_text() -> None:
    message = OutboundMessage(
        channel="email",
        recipient_id="a@b.c",
        text="Our price list:",
        image="https://mariia-hub.pl/prices.png",
        attachment=Attachment(kind="document", url="https://mariia-hub.pl/prices.pdf", name="prices.pdf"),
        buttons=BUTTONS[:1],
    )
    assert render_text(message) == (
        "Our price list:\n\nhttps://mariia-hub.pl/prices.png\n\nprices.pdf: https://mariia-hub.pl/prices.pdf\n\n"
        "Reply 1 for Rezerwacja"
    )


def test_references_keep_the_root_and_the_newest_when_capped() -> None:
    chain = [f"<m{n}@x>" for n in range(30)]
    thread = ThreadHeaders(topic="t", in_reply_to="<last@x>", references=chain)
    capped = thread.reply_references()
    assert len(capped) == MAX_REFERENCES
    assert capped[0] == "<m0@x>" and capped[-1] == "<last@x>" and capped[-2] == "<m29@x>"
    assert ThreadHeaders(in_reply_to="<a@x>", references=["<a@x>"]).reply_references() == ["<a@x>"]


@pytest.mark.parametrize(
    ("answer", "chosen"),
    [
        ("1", 1),
        (" 2. ", 2),
        ("2)", 2),
        ("#2", 2),
        ("Option 1", 1),
        ("opcja 2", 2),
        ("godziny otwarcia", 2),
        ("Rezerwacja.", 1),
        ("3", None),
        ("0", None),
        ("1 and 2", None),
        ("I want 1 massage", None),
        ("", None),
    ],
)
def test_a_numbered_answer_or_an_option_title_chooses_the_button(answer: str, chosen: int | None) -> None:
    found = match_option(answer, BUTTONS)
    assert (found[0] if found else None) == chosen
    if found:
        assert found[1] == BUTTONS[found[0] - 1]


def test_without_buttons_a_number_is_just_text() -> None:
    assert match_option("1", []) is None


def test_our_message_ids_are_recognised_only_for_our_domain() -> None:
    made = new_message_id("mariia-hub.test")
    assert made != new_message_id("mariia-hub.test")
    # with the outbox's delivery key: the same mail on every attempt, another mail another id
    keyed = new_message_id("mariia-hub.test", "email:ana@example.com:seq4@1796000000000000")
    assert keyed == new_message_id("mariia-hub.test", "email:ana@example.com:seq4@1796000000000000")
    assert keyed != new_message_id("mariia-hub.test", "email:ana@example.com:seq6@1796000000000001")
    assert is_our_message_id(keyed, "mariia-hub.test") and "ana" not in keyed
    assert is_our_message_id(made, "mariia-hub.test")
    assert is_our_message_id(made, "MARIIA-HUB.TEST")
    assert not is_our_message_id(made, "example.com")
    assert not is_our_message_id("<CAF1ana-0001@mail.example.com>", "mariia-hub.test")
