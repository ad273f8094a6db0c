"""Cutting quoted history and signatures: what mail apps in English, Polish and Ukrainian really write."""

from __future__ import annotations

import pytest

from bot.channels.email.quotes import strip_reply

CASES = {
    "gmail en": (
        "Can I come at 5?\n\nOn Mon, 23 Nov 2026 at 09:16, Mariia Hub <hello@mariia-hub.test> wrote:\n"
        "> Welcome!\n> How can I help?\n",
        "Can I come at 5?",
    ),
    "gmail en, attribution wrapped over two lines": (
        "Can I come at 5?\n\nOn Mon, 23 Nov 2026 at 09:16, Mariia Hub <hello@mariia-hub.test>\nwrote:\n\n"
        "> Welcome!\n",
        "Can I come at 5?",
    ),
    "apple mail en": (
        "Yes please\n\nSent from my iPhone\n\n"
        "> On 23 Nov 2026, at 09:16, Mariia Hub <hello@mariia-hub.test> wrote:\n"
        ">\n> Shall I book it?\n",
        "Yes please",
    ),
    "outlook en": (
        "Thanks!\n\n________________________________\nFrom: Mariia Hub <hello@mariia-hub.test>\n"
        "Sent: Monday, November 23, 2026 18:02\nTo: Ana <ana@example.com>\nSubject: Re: Booking\n\nBooked.\n",
        "Thanks!",
    ),
    "outlook original message": (
        "See you then.\n\n-----Original Message-----\n"
        "From: Mariia Hub\nSent: Monday\nSubject: Booking\n\nBooked.",
        "See you then.",
    ),
    "outlook pl": (
        "Dziękuję!\n\nOd: Mariia Hub <hello@mariia-hub.test>\n"
        "Wysłano: poniedziałek, 23 listopada 2026 18:02\n"
        "Do: Jan <jan@example.pl>\nTemat: Rezerwacja\n\nZarezerwowane.\n",
        "Dziękuję!",
    ),
    "gmail pl": (
        "Czy mogę przełożyć wizytę?\n\n"
        "pon., 23 lis 2026 o 18:02 Mariia Hub <hello@mariia-hub.test> napisał(a):\n"
        "> Twoja wizyta jest zarezerwowana.\n",
        "Czy mogę przełożyć wizytę?",
    ),
    "thunderbird pl": (
        "Pasuje mi.\n\nW dniu 23.11.2026 o 18:02, Mariia Hub pisze:\n> Proponujemy sobotę.\n",
        "Pasuje mi.",
    ),
    "apple mail pl, unquoted history": (
        "Dobrze\n\nWysłane z iPhone'a\n\n"
        "W dniu 23.11.2026, o godz. 18:02, Mariia Hub <hello@mariia-hub.test> "
        "napisał(a):\nTwoja wizyta jest zarezerwowana.\n",
        "Dobrze",
    ),
    "gmail uk": (
        "Дякую, буду о 10:00.\n\nпн, 23 лист. 2026 р. о 18:02 Mariia Hub <hello@mariia-hub.test> пише:\n"
        "> Ваш візит заброньовано.\n",
        "Дякую, буду о 10:00.",
    ),
    "apple mail uk": (
        "Так\n\nНадіслано з iPhone\n\n"
        "23 лист. 2026 р. о 18:02 Mariia Hub <hello@mariia-hub.test> написав(ла):\n"
        "> Підтвердіть, будь ласка.\n",
        "Так",
    ),
    "outlook uk": (
        "Добре.\n\nВід: Mariia Hub <hello@mariia-hub.test>\nНадіслано: 23 листопада 2026 р. 18:02\n"
        "Кому: Олена <olena@example.ua>\nТема: Запис\n\nЗаписали.\n",
        "Добре.",
    ),
    "ru": (
        "Спасибо\n\n23.11.2026 18:02, Mariia Hub пишет:\n> Записали.\n",
        "Спасибо",
    ),
    "signature dashes": (
        "Book me in please.\n\n-- \nAna Kowalska\nExample Sp. z o.o.\n",
        "Book me in please.",
    ),
    "signature dashes without the space": ("Book me in.\n--\nAna\n", "Book me in."),
    "get outlook for android": ("OK\n\nGet Outlook for Android\n", "OK"),
    "inline answers between quotes are kept": (
        "> Which day?\nFriday\n> Which time?\n10:00\n",
        "Friday\n10:00",
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(CASES.values()), ids=list(CASES))
def test_only_what_the_client_wrote_now_is_kept(text: str, expected: str) -> None:
    assert strip_reply(text) == expected


def test_prose_that_mentions_writing_is_not_mistaken_for_an_attribution() -> None:
    text = "My sister wrote:\nis the massage good for back pain?\nShe asked me to check."
    assert strip_reply(text) == text


def test_a_forwarded_message_is_kept_for_the_bot_to_read() -> None:
    text = (
        "Please see below.\n\n---------- Forwarded message ---------\nFrom: Salon <x@example.com>\n"
        "Date: Mon, 23 Nov 2026\nSubject: Voucher\n\nVoucher code 1234"
    )
    assert "Voucher code 1234" in strip_reply(text)


def test_a_mail_that_is_only_a_quote_keeps_the_quote_rather_than_nothing() -> None:
    assert (
        strip_reply("On Mon, 23 Nov 2026, Ana <a@b.c> wrote:\nhello")
        == "On Mon, 23 Nov 2026, Ana <a@b.c> wrote:\nhello"
    )
    assert strip_reply("> only quoted\n") == "> only quoted"


def test_crlf_and_trailing_blank_lines_are_normalised() -> None:
    assert strip_reply("hello  \r\n\r\n\r\n") == "hello"
