"""Raw MIME in, what the bot needs out: who wrote, in which thread, what they wrote now.

Uses the standard library's :mod:`email` with ``policy=default`` (decoded headers, RFC
2047 names, charsets). The body is the ``text/plain`` part when it has text, else the
``text/html`` part turned into plain text with ``html2text`` (no links, images or
emphasis marks: the bot and the console read it as a person would). Quoted history
and signatures are cut (:mod:`bot.channels.email.quotes`).

Attachments are every leaf part that is not the chosen body: files, inline images,
attached messages (``message/rfc822``, kept whole as a ``.eml`` document). Mail that a
machine sent (auto-replies, bounces, vacation notices) is recognised so it is never
answered: answering an auto-reply with an auto-reply is how mail loops start.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import Literal

import html2text
from pydantic import BaseModel, Field

from bot.channels.email.quotes import strip_reply
from bot.errors import BadPayload

__all__ = ["EmailFile", "ParsedEmail", "html_to_text", "message_ids", "parse_email", "subject_topic"]

_MSG_ID = re.compile(r"<[^<>\s]+>")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|odp|pd|тема|відп|вдп|ответ|sv|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_AUTOMATED_SENDERS = re.compile(r"^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)
_AUTOMATED_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}

AttachmentKind = Literal["image", "audio", "video", "document"]


class EmailFile(BaseModel):
    """One attachment with its bytes (stored by the channel, never put in the event log)."""

    name: str
    mime_type: str
    kind: AttachmentKind
    content: bytes = Field(repr=False)

    @property
    def sha256(self) -> str:
        """The content's hash: the stored file's name, so the same file is stored once."""
        return hashlib.sha256(self.content).hexdigest()


class ParsedEmail(BaseModel):
    """What one e-mail says, provider-neutral."""

    message_id: str  # "<...>", as in the header; synthesised from the content when missing
    sender: str  # the From address, lower-cased
    sender_name: str | None = None
    to: list[str] = Field(default_factory=list)
    subject: str = ""
    in_reply_to: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    date: datetime | None = None
    text: str = ""  # what the client wrote now (quotes and signature cut)
    from_html: bool = False  # the text came from an HTML-only body
    attachments: list[EmailFile] = Field(default_factory=list)
    automated: str | None = None  # why this looks machine-sent (then it is never answered)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, nearest first (In-Reply-To, then References newest first)."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse a raw RFC 5322 message; :class:`BadPayload` when it has no usable sender."""
    if not raw or not raw.strip():
        raise BadPayload("the e-mail is empty")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise BadPayload("the e-mail has no headers")
    sender, sender_name = _sender(message)
    body_part, text, from_html = _body(message)
    subject = _header(message, "Subject")
    return ParsedEmail(
        message_id=_message_id(message, raw),
        sender=sender,
        sender_name=sender_name,
        to=_addresses(message, "To"),
        subject=subject,
        in_reply_to=message_ids(_header(message, "In-Reply-To")),
        references=message_ids(_header(message, "References")),
        date=_date(message),
        text=strip_reply(text) if text else "",
        from_html=from_html,
        attachments=_attachments(message, body_part),
        automated=_automated(message, sender),
    )


def message_ids(value: str) -> list[str]:
    """The ``<...>`` ids in a Message-ID, In-Reply-To or References header, in order."""
    return _MSG_ID.findall(value or "")


def subject_topic(subject: str) -> str:
    """The subject without "Re:", "Fwd:", "Odp:", "AW:" ... prefixes."""
    return _REPLY_PREFIX.sub("", subject or "").strip()


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body: paragraphs kept, markup, links and images dropped."""
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: the console wraps
    converter.ignore_images = True
    converter.ignore_links = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True  # keep "ł", "є" and typographic quotes as they are
    text = _MD_ESCAPE.sub(r"\1", converter.handle(html).replace("\xa0", " "))
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()  # no Markdown hard breaks


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), None)
    return str(value).strip() if value is not None else ""


def _message_id(message: Message, raw: bytes) -> str:
    ids = message_ids(_header(message, "Message-ID"))
    if ids:
        return ids[0]
    # No Message-ID (rare; some scripts): the same bytes delivered twice still dedupe.
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.concierge>"


def _sender(message: Message) -> tuple[str, str | None]:
    for name in ("From", "Sender", "Reply-To"):
        addresses = _address_objects(message, name)
        if addresses:
            first = addresses[0]
            return first.addr_spec.lower(), (first.display_name or None)
    raise BadPayload("the e-mail has no sender address (From)")


def _addresses(message: Message, name: str) -> list[str]:
    return [a.addr_spec.lower() for a in _address_objects(message, name)]


def _address_objects(message: Message, name: str) -> list[Address]:
    try:
        header = message.get(name)
    except (ValueError, IndexError, TypeError):
        return []
    found = [a for a in getattr(header, "addresses", ()) if a.username and a.domain]
    return found


def _date(message: Message) -> datetime | None:
    try:
        value = _header(message, "Date")
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None


def _body(message: EmailMessage) -> tuple[Message | None, str, bool]:
    """The body part, its text, and whether that text was converted from HTML."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        text = _text_of(plain)
        if text.strip():
            return plain, text, False
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html, html_to_text(_text_of(html)), True
    return plain, "", False


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, ValueError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _attachments(message: Message, body: Message | None) -> list[EmailFile]:
    files: list[EmailFile] = []
    for part in _leaves(message):
        if part is body:
            continue
        mime_type = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if mime_type.startswith("text/") and not filename and disposition != "attachment":
            continue  # the other alternative of the body (text/html next to text/plain)
        content = _bytes_of(part)
        if content is None:
            continue
        files.append(
            EmailFile(
                name=filename or _default_name(part, len(files) + 1),
                mime_type=mime_type,
                kind=_kind(mime_type),
                content=content,
            )
        )
    return files


def _leaves(part: Message) -> list[Message]:
    """Leaf parts in order; an attached message is one leaf (we do not read inside it)."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        return [part]
    leaves: list[Message] = []
    for child in part.get_payload():  # type: ignore[union-attr]
        if isinstance(child, Message):
            leaves.extend(_leaves(child))
    return leaves


def _bytes_of(part: Message) -> bytes | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return bytes(inner[0].as_bytes(policy=email.policy.SMTP))
        return None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def _default_name(part: Message, number: int) -> str:
    mime_type = part.get_content_type()
    if mime_type == "message/rfc822":
        return f"message-{number}.eml"
    extension = mime_type.split("/", 1)[1].split("+", 1)[0] if "/" in mime_type else "bin"
    return f"attachment-{number}.{extension}"


def _kind(mime_type: str) -> AttachmentKind:
    main = mime_type.split("/", 1)[0]
    if main in ("image", "audio", "video"):
        return main  # type: ignore[return-value]
    return "document"


def _automated(message: Message, sender: str) -> str | None:
    """Why this mail was sent by a machine (RFC 3834 and common practice), or None."""
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _header(message, name):
            return name
    precedence = _header(message, "Precedence").lower()
    if precedence in _AUTOMATED_PRECEDENCE:
        return f"Precedence: {precedence}"
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    if _AUTOMATED_SENDERS.match(sender):
        return f"sender {sender.split('@', 1)[0]}"
    if _header(message, "Return-Path") == "<>":
        return "null return path (a bounce)"
    return None
