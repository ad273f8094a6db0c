"""Outgoing mail: the bot's message as a threaded plain-text e-mail, buttons as numbered options.

E-mail has no buttons, so a message's buttons are written as lines ("Reply 1 for Opening
hours"), and a client's answer that is just that number (or the option's title) is read
back as the button's payload (:func:`match_option`).

Every reply carries ``In-Reply-To`` (the client's latest mail) and ``References`` (that
mail's references plus its id), so the client's mail app files it in the same thread, and
a ``Message-ID`` we make (``<concierge.<hex>@<our domain>>``), so a reply to it is
recognised. Bot replies also carry ``Auto-Submitted: auto-replied`` and
``X-Auto-Response-Suppress: All`` (RFC 3834; Exchange): vacation responders then stay
quiet, which keeps two machines from mailing each other forever. An agent's reply is a
person writing, so it carries neither.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import re
import uuid
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from pydantic import BaseModel, Field

from bot.models import Button, OutboundMessage

__all__ = [
    "ThreadHeaders",
    "build_email",
    "is_our_message_id",
    "match_option",
    "new_message_id",
    "render_text",
]

MAX_REFERENCES = 20
_OPTION = re.compile(r"^(?:#|nr\.?|no\.?|option|opcja|варіант)?\s*(\d{1,2})\s*[.)!]?$", re.IGNORECASE)
_OUR_ID = re.compile(r"^<concierge\.[0-9a-f]{32}@(?P<domain>[^>]+)>$")


class ThreadHeaders(BaseModel):
    """Where a reply belongs: the thread's topic and the client mail it answers."""

    topic: str = ""
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)

    def reply_references(self) -> list[str]:
        """The References of a reply: the parent's references, then the parent; capped, root kept."""
        chain = [*self.references]
        if self.in_reply_to and self.in_reply_to not in chain:
            chain.append(self.in_reply_to)
        if len(chain) > MAX_REFERENCES:
            chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
        return chain


def new_message_id(domain: str, key: str | None = None) -> str:
    """A Message-ID of ours: fresh, or, given the outbox's delivery key, the same on every
    attempt at that mail, so a mail sent again after a crash is the same mail to stores that
    keep one copy per Message-ID (the key is hashed: it names the conversation)."""
    token = hashlib.sha256(f"{domain}\n{key}".encode()).hexdigest()[:32] if key else uuid.uuid4().hex
    return f"<concierge.{token}@{domain}>"


def is_our_message_id(message_id: str, domain: str) -> bool:
    """True for a Message-ID :func:`new_message_id` made for ``domain``."""
    found = _OUR_ID.match(message_id.strip())
    return found is not None and found.group("domain").lower() == domain.lower()


def render_text(message: OutboundMessage, option_line: str = "Reply {number} for {title}") -> str:
    """The plain-text body: the text, links to media, then one line per button."""
    parts: list[str] = []
    if message.text:
        parts.append(message.text.strip())
    if message.image:
        parts.append(message.image)
    if message.attachment is not None and message.attachment.url:
        label = message.attachment.name or message.attachment.kind
        parts.append(f"{label}: {message.attachment.url}")
    if message.buttons:
        parts.append(
            "\n".join(
                option_line.format(number=number, title=button.title)
                for number, button in enumerate(message.buttons, start=1)
            )
        )
    return "\n\n".join(parts)


def build_email(
    message: OutboundMessage,
    *,
    from_address: str,
    from_name: str | None,
    to: str,
    to_name: str | None = None,
    subject: str,
    thread: ThreadHeaders | None,
    message_id: str,
    date: datetime,
    option_line: str = "Reply {number} for {title}",
    html_alternative: bool = False,
) -> EmailMessage:
    """The complete e-mail for ``message`` (flatten with ``as_bytes(policy=email.policy.SMTP)``)."""
    mail = EmailMessage(policy=email.policy.SMTP)
    username, _, domain = from_address.rpartition("@")
    mail["From"] = Address(display_name=from_name or "", username=username, domain=domain)
    to_user, _, to_domain = to.rpartition("@")
    mail["To"] = Address(display_name=to_name or "", username=to_user, domain=to_domain)
    topic = thread.topic if thread is not None else ""
    mail["Subject"] = f"Re: {topic}" if topic else subject
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = message_id
    if thread is not None and thread.in_reply_to:
        mail["In-Reply-To"] = thread.in_reply_to
        references = thread.reply_references()
        if references:
            mail["References"] = " ".join(references)
    if message.sender != "agent":
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    text = render_text(message, option_line)
    mail.set_content(text + "\n", charset="utf-8", cte="quoted-printable")
    if html_alternative:
        mail.add_alternative(_html(text), subtype="html", charset="utf-8", cte="quoted-printable")
    return mail


def _html(text: str) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in text.split("\n\n") if block
    )
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{paragraphs}</body></html>\n'


def match_option(text: str, buttons: list[Button]) -> tuple[int, Button] | None:
    """The button a client chose by answering with its number or its title, if any."""
    answer = " ".join(text.split())
    if not answer or not buttons:
        return None
    found = _OPTION.match(answer)
    if found:
        number = int(found.group(1))
        if 1 <= number <= len(buttons):
            return number, buttons[number - 1]
        return None
    wanted = answer.rstrip(".!").casefold()
    for number, button in enumerate(buttons, start=1):
        if button.title.casefold() == wanted:
            return number, button
    return None
