"""The email channel: mail in by IMAP polling or an inbound-parse webhook, replies out by SMTP.

Inbound, both paths end in :meth:`EmailChannel.ingest`: parse the MIME
(:mod:`~bot.channels.email.parse`), drop what must not be answered (auto-replies,
bounces, our own mail), find the conversation (:mod:`~bot.channels.email.threads`), read
a numbered answer as the button it names, store attachments
(:mod:`~bot.channels.email.files`), then the shared webhook flow: ``handler.receive``
(durable; a mail delivered twice, by IMAP and the webhook or by a provider's retry, is
stored once: its Message-ID is the message id), and the bot's turn in the background, in
order per conversation.

``POST /webhooks/email/webhook`` takes a SendGrid Inbound Parse request with "POST the
raw, full MIME message" on: ``multipart/form-data`` whose ``email`` field is the raw
message (other fields are ignored). It must carry HTTP Basic credentials matching
``inbound_webhook`` in ``credentials.yml``: configure the provider's URL as
``https://<username>:<password>@<host>/webhooks/email/webhook``. Without them (or without
an ``inbound_webhook`` section) the answer is 401 and nothing is stored. Machine-sent and
our own mail are acknowledged with 200 (so the provider does not retry) and ignored.

Outbound, a turn's replies become ONE mail (clients expect one answer per mail); the
outbox calls :meth:`EmailChannel.deliver`, which threads it under the client's latest mail
(:mod:`~bot.channels.email.compose`) and sends it by SMTP (:mod:`~bot.channels.email.smtp`).
The provider message id is the Message-ID we made, so a client's answer to it is found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from bot.channels.addresses import is_opaque
from bot.channels.base import MessageHandler, describe_validation_error
from bot.channels.email.compose import build_email, is_our_message_id, match_option, new_message_id
from bot.channels.email.config import EmailConfig
from bot.channels.email.files import AttachmentFiles
from bot.channels.email.imap import ImapCursor, ImapPoller
from bot.channels.email.parse import ParsedEmail, parse_email, subject_topic
from bot.channels.email.smtp import SmtpSender
from bot.channels.email.threads import ThreadIndex
from bot.channels.outbox import Outbox
from bot.channels.webhook import WebhookBatch, WebhookChannel
from bot.errors import BadPayload, ChannelError, ConfigError, Unauthorized
from bot.leases import RoundLease
from bot.models import ComponentHealth, ContactHints, InboundMessage, OutboundMessage, VerifiedIdentity

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["EmailChannel"]

log = logging.getLogger(__name__)

ATTACHMENTS_ROUTE = "/attachments"
MAX_ID_LENGTH = 250  # the journal's message_id column holds 255
MAX_REFERENCES_KEPT = 20


class EmailChannel(WebhookChannel):
    """Mail in (IMAP and/or inbound-parse webhook), mail out (SMTP), one conversation per address."""

    name = "email"
    config_model = EmailConfig

    def __init__(self, config: EmailConfig, *, state_dir: Path | None = None) -> None:
        super().__init__(config)
        self.email: EmailConfig = config
        state = state_dir or Path(".concierge")
        self.smtp = SmtpSender(config.smtp)
        self.files = AttachmentFiles(
            config.attachments_dir or state / "attachments" / "email",
            url_prefix=f"/webhooks/{self.name}{ATTACHMENTS_ROUTE}",
            max_bytes=config.max_attachment_bytes,
        )
        self.cursor_path = state / "email" / "imap-cursor.json"
        self.poller: ImapPoller | None = None
        self.threads: ThreadIndex | None = None
        # the outbox's delivery key in, a Message-ID out (stable across attempts at one mail)
        self.make_message_id: Callable[[str | None], str] = lambda key: new_message_id(config.domain, key)

    @classmethod
    def from_credentials(cls, section: Mapping[str, Any] | None, settings: Settings | None) -> Self:
        """Validate the ``email:`` section; attachments and the IMAP cursor live in the state dir."""
        try:
            config = EmailConfig.model_validate(dict(section or {}))
        except ValidationError as exc:
            raise ConfigError(f"credentials.yml, section email: {describe_validation_error(exc)}") from None
        return cls(config, state_dir=settings.resolved_state_dir() if settings is not None else None)

    # ---- lifecycle -------------------------------------------------------------------
    def attach(self, outbox: Outbox) -> None:
        """Send through ``outbox``; start polling the mailbox (the database is up now)."""
        super().attach(outbox)
        self.threads = ThreadIndex(outbox.engine, self.name)
        imap = self.email.imap
        if imap is not None and self.handler is not None and self.poller is None:
            key = f"{imap.username}@{imap.host}:{imap.port}/{imap.mailbox}"
            lease = RoundLease(outbox.engine, f"imap:{key}")  # one process polls each round
            self.poller = ImapPoller(imap, ImapCursor(self.cursor_path, key), self._imap_sink, lease=lease)
            self.poller.start()

    async def close(self) -> None:
        """Stop polling, then finish the mails being processed."""
        if self.poller is not None:
            await self.poller.close()
            self.poller = None
        await super().close()

    def health(self) -> ComponentHealth:
        """Sends and receives (the outbox's view) plus the mailbox poller's state."""
        base = super().health()
        if self.poller is None:
            return base
        poller = self.poller
        if poller.last_error:
            return ComponentHealth(
                status="degraded", detail=f"{base.detail}; IMAP failing: {poller.last_error}"
            )
        polled = poller.last_poll_at.strftime("%H:%M:%S UTC") if poller.last_poll_at else "not yet"
        return ComponentHealth(status=base.status, detail=f"{base.detail}; IMAP polled {polled}")

    # ---- routes ----------------------------------------------------------------------
    def extra_routes(self, router: APIRouter) -> None:
        """The attachment route, behind the console's sign-in (:attr:`staff`: workspace roles,
        given by the app); not mounted without one, so attachments are never public."""
        if self.staff is None:
            return

        @router.get(ATTACHMENTS_ROUTE + "/{digest}", dependencies=[Depends(self.staff)])
        async def attachment(digest: str) -> Response:
            stored = await self.files.open(digest)
            if stored is None:
                return JSONResponse({"error": "not_found", "message": "No such attachment."}, status_code=404)
            headers = {
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, max-age=3600",
            }
            return FileResponse(
                stored.path,
                media_type=stored.mime_type if stored.inline else "application/octet-stream",
                filename=stored.name,
                content_disposition_type="inline" if stored.inline else "attachment",
                headers=headers,
            )

    # ---- inbound: the webhook ----------------------------------------------------------
    async def verify(self, request: Request, body: bytes) -> None:
        """HTTP Basic credentials must match ``inbound_webhook`` (compared in constant time)."""
        settings = self.email.inbound_webhook
        if settings is None:
            raise Unauthorized("the inbound webhook is not configured (no inbound_webhook section)")
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise Unauthorized("no Basic credentials")
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        user_ok = hmac.compare_digest(username.encode(), settings.username.encode())
        password_ok = hmac.compare_digest(password.encode(), settings.password.get_secret_value().encode())
        if not (user_ok and password_ok):
            raise Unauthorized("wrong credentials")

    def parse(self, request: Request, body: bytes) -> WebhookBatch:
        """Not used: mail needs async work before it is stored (attachments, thread lookups),
        so :meth:`accept` reads the form and calls :meth:`ingest` instead."""
        raise NotImplementedError("EmailChannel.accept reads the form itself")

    async def accept(self, request: Request, handler: MessageHandler) -> Response:
        """Authenticate, read the raw MIME from the form, ingest it; 200 once stored (or ignored)."""
        settings = self.email.inbound_webhook
        try:
            await self.verify(request, b"")
        except Unauthorized as exc:
            self.stats.refused += 1
            client = request.client.host if request.client else "unknown"
            log.warning("email: refused an inbound webhook request from %s: %s", client, exc)
            return JSONResponse(
                {"error": "unauthorized", "message": "valid credentials required"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="concierge-email"'},
            )
        assert settings is not None  # verify() passed
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_bytes:
            return JSONResponse(
                {"error": "too_large", "message": "the request is too large"}, status_code=413
            )
        try:
            raw = await self._raw_mime(request, settings.max_bytes)
            outcome = await self.ingest(raw, handler)
        except BadPayload as exc:
            log.warning("email: unreadable inbound webhook request: %s", exc)
            return JSONResponse({"error": "bad_payload", "message": str(exc)}, status_code=400)
        return JSONResponse({"status": "ok", "result": outcome})

    async def _raw_mime(self, request: Request, max_bytes: int) -> bytes:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise BadPayload("expected multipart/form-data with the raw message in the 'email' field")
        try:
            form = await request.form(max_files=100, max_fields=100, max_part_size=max_bytes)
        except Exception as exc:  # starlette raises its own parser errors
            raise BadPayload(f"unreadable form data ({type(exc).__name__})") from None
        value = form.get("email")
        if isinstance(value, UploadFile):
            return await value.read()
        if isinstance(value, str) and value.strip():
            return value.encode("utf-8", errors="surrogateescape")
        raise BadPayload("the form has no 'email' field (turn on 'POST the raw, full MIME message')")

    # ---- inbound: shared by IMAP and the webhook -----------------------------------------
    async def _imap_sink(self, raw: bytes) -> bool:
        """An IMAP mail: True when it was stored for the bot (then it is marked read)."""
        if self.handler is None:
            raise ChannelError("the email channel is not mounted", retryable=True)
        try:
            outcome = await self.ingest(raw, self.handler)
        except BadPayload as exc:
            log.warning("email: an unreadable mail in the mailbox was left unread: %s", exc)
            return False
        return outcome in ("stored", "duplicate")

    async def ingest(self, raw: bytes, handler: MessageHandler) -> str:
        """One raw mail into the conversation: ``stored``, ``duplicate`` or ``ignored``.

        Raises :class:`BadPayload` for a mail that cannot be read.
        """
        parsed = parse_email(raw)
        reason = self._ignore_reason(parsed)
        if reason is not None:
            log.info("email: ignored a mail (%s)", reason)
            return "ignored"
        sender_id = await self._conversation_sender(parsed)
        if not is_opaque(sender_id):  # From: the conversation of that address (its token)
            sender_id = await self.token_of(sender_id)
        message = await self._inbound(parsed, sender_id)
        if message.text is None and not message.attachments:
            log.info("email: ignored an empty mail")
            return "ignored"
        fresh = await self.store([message], handler)
        if not fresh:
            return "duplicate"
        self.schedule(fresh[0], handler)  # as stored (the shared flow adds attachment metadata)
        return "stored"

    def _ignore_reason(self, parsed: ParsedEmail) -> str | None:
        if parsed.automated:
            return f"machine-sent: {parsed.automated}"
        if parsed.sender == self.email.address.lower() or is_our_message_id(
            parsed.message_id, self.email.domain
        ):
            return "our own mail"
        return None

    async def _conversation_sender(self, parsed: ParsedEmail) -> str:
        """The conversation's sender id (the token of the address we wrote to) when this mail
        answers one of ours, else the From address."""
        if self.threads is not None:
            ours = await self.threads.conversation_of_our_mail(parsed.thread_ids)
            if ours is not None:
                return ours
        return parsed.sender

    async def _inbound(self, parsed: ParsedEmail, sender_id: str) -> InboundMessage:
        metadata = {"email_message_id": parsed.message_id, "email_subject": parsed.subject[:300]}
        # From counts as proven: the mail came through our own mailbox (IMAP) or the
        # authenticated inbound webhook, so it is as strong as the mail provider's
        # SPF/DKIM/DMARC filtering (docs/security.md). The display name is only a hint.
        identities = VerifiedIdentity.listed("email", parsed.sender, "provider")
        hints = ContactHints(name=(parsed.sender_name or "").strip()[:200] or None)
        if parsed.in_reply_to:
            metadata["email_in_reply_to"] = parsed.in_reply_to[0]
        chain = [*parsed.references, *[m for m in parsed.in_reply_to if m not in parsed.references]]
        if chain:
            metadata["email_references"] = " ".join(chain[-MAX_REFERENCES_KEPT:])
        if parsed.from_html:
            metadata["email_body"] = "html"
        text = parsed.text or subject_topic(parsed.subject) or None
        if text is not None and self.threads is not None:
            buttons = await self.threads.buttons_answered(f"{self.name}:{sender_id}", parsed.thread_ids)
            chosen = match_option(text, buttons)
            if chosen is not None:
                _number, button = chosen
                metadata.update({"title": button.title, "typed": text})
                text = button.payload
        attachments = [await self.files.save(file) for file in parsed.attachments]
        return InboundMessage(
            channel=self.name,
            sender_id=sender_id,
            text=text,
            message_id=_storable_id(parsed.message_id),
            attachments=attachments,
            metadata=metadata,
            identities=identities,
            hints=hints,
        )

    # ---- outbound ------------------------------------------------------------------
    def outbox_rows(
        self, replies: Sequence[tuple[str, OutboundMessage]]
    ) -> list[tuple[str, OutboundMessage]]:
        """A turn's replies as one mail (one answer per client mail), under the first line's key."""
        merged = merge_replies([reply for _key, reply in replies])
        return [(replies[0][0], merged)] if merged is not None else []

    async def deliver(self, message: OutboundMessage) -> str | None:
        """Send one mail by SMTP, threaded under the client's latest mail; its Message-ID."""
        thread = None
        if self.threads is not None:
            # the outbox hands over the address; the thread is the conversation's (its token's)
            thread = await self.threads.latest_client_mail(await self.conversation_of(message.recipient_id))
        to, to_name = message.recipient_id, None
        if thread is not None and thread.reply_to:
            to, to_name = thread.reply_to, thread.reply_name
        if "@" not in to:
            raise ChannelError(f"not an e-mail address: {to!r}", retryable=False)
        message_id = self.make_message_id(message.idempotency_key)
        try:
            mail = build_email(
                message,
                from_address=self.email.address,
                from_name=self.email.from_name,
                to=to,
                to_name=to_name,
                subject=self.email.subject,
                thread=thread,
                message_id=message_id,
                date=self.clock(),
                option_line=self.email.option_line,
                html_alternative=self.email.html,
            )
        except (ValueError, IndexError) as exc:  # an address or name the headers cannot carry
            raise ChannelError(f"cannot write this mail: {exc}", retryable=False) from None
        await self.smtp.send(mail, sender=self.email.address, recipients=[to])
        return message_id


def merge_replies(replies: list[OutboundMessage]) -> OutboundMessage | None:
    """One message from a turn's replies: texts (and media links) in order, all buttons."""
    if not replies:
        return None
    if len(replies) == 1:
        return replies[0]
    texts: list[str] = []
    for reply in replies:
        if reply.text:
            texts.append(reply.text.strip())
        if reply.image:
            texts.append(reply.image)
        if reply.attachment is not None and reply.attachment.url:
            texts.append(f"{reply.attachment.name or reply.attachment.kind}: {reply.attachment.url}")
    senders = {reply.sender for reply in replies}
    return OutboundMessage(
        channel=replies[0].channel,
        recipient_id=replies[0].recipient_id,
        text="\n\n".join(texts) or None,
        buttons=[button for reply in replies for button in reply.buttons],
        sender="agent" if "agent" in senders else ("bot" if "bot" in senders else "system"),
    )


def _storable_id(message_id: str) -> str:
    """The Message-ID, or a stable hash of it when it is longer than the journal holds."""
    if len(message_id) <= MAX_ID_LENGTH:
        return message_id
    return f"<sha256.{hashlib.sha256(message_id.encode()).hexdigest()}@long-message-id>"
