"""Meta's messaging webhook events (Messenger ``page``, Instagram ``instagram``) as our messages.

A notification is ``{"object": "page" | "instagram", "entry": [{"id", "time", "messaging":
[event, ...]}]}``; each event is one of:

- ``message``: text, ``quick_reply.payload`` (a pressed quick reply: the payload is the
  text, the label goes in ``metadata["title"]``), ``attachments`` (image, video, audio,
  file; location on Messenger). Echoes of the page's own sends (``is_echo``) and deleted
  messages are ignored; a message Meta marks ``is_unsupported`` (or holding only
  attachments we cannot read) is :class:`~bot.channels.webhook.Unsupported`; Instagram
  story mentions and shares are recorded for the agent without a reply.
- ``postback``: a pressed button (``payload`` is the text, ``title`` the label).
- ``reaction``: recorded, not answered (``metadata["kind"] = "reaction"``, ``reacted_to``).
- ``message_edit`` (Messenger only): recorded as an edit of ``mid``, not answered.
- ``delivery`` and ``read``: receipts; by message id, or by ``watermark`` time
  (:class:`WatermarkReceipt`) when Meta names no ids.

"Recorded, not answered" is ``InboundMessage.record_only``: the engine stores the
client's line and runs no bot turn. The webhooks carry no names or phone numbers: the
sender's PSID / IGSID is the only identity, verified (the notification is signed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.base import describe_validation_error
from bot.channels.limits import stale_log_line
from bot.channels.outbox import ReceiptStatus
from bot.channels.webhook import Receipt, Unsupported, WebhookBatch
from bot.errors import BadPayload
from bot.models import Attachment, InboundMessage, VerifiedIdentity

log = logging.getLogger(__name__)

ATTACHMENT_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
SHARED_KINDS = {"share", "story_mention", "ig_reel", "reel", "ig_post"}
#: the identity kind of each webhook object's sender ids
SENDER_KINDS: dict[str, Literal["messenger", "instagram"]] = {"page": "messenger", "instagram": "instagram"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Party(_Model):
    id: str


class _QuickReply(_Model):
    payload: str


class _Coordinates(_Model):
    lat: float
    long: float


class _AttachmentPayload(_Model):
    url: str | None = None
    title: str | None = None
    coordinates: _Coordinates | None = None
    sticker_id: int | None = None


class _Attachment(_Model):
    type: str
    title: str | None = None
    payload: _AttachmentPayload | None = None


class _Message(_Model):
    mid: str
    text: str | None = None
    is_echo: bool = False
    is_deleted: bool = False
    is_unsupported: bool = False
    quick_reply: _QuickReply | None = None
    attachments: list[_Attachment] = Field(default_factory=list)


class _Postback(_Model):
    mid: str | None = None
    title: str | None = None
    payload: str | None = None


class _Reaction(_Model):
    mid: str
    action: Literal["react", "unreact"]
    reaction: str | None = None
    emoji: str | None = None


class _MessageEdit(_Model):
    mid: str
    text: str = ""
    num_edit: int = 0


class _Delivery(_Model):
    mids: list[str] = Field(default_factory=list)
    watermark: int | None = None


class _Read(_Model):
    watermark: int | None = None
    mid: str | None = None


class _Event(_Model):
    sender: _Party
    recipient: _Party
    timestamp: int | None = None
    message: _Message | None = None
    postback: _Postback | None = None
    reaction: _Reaction | None = None
    message_edit: _MessageEdit | None = None
    delivery: _Delivery | None = None
    read: _Read | None = None


class _Entry(_Model):
    id: str
    time: int | None = None
    messaging: list[_Event] = Field(default_factory=list)


class _Webhook(_Model):
    object: str
    entry: list[_Entry]


class WatermarkReceipt(Receipt):
    """Messenger's "everything up to ``at`` was delivered/read" for one client.

    ``provider_message_id`` is unused (empty); the channel applies it to every message it
    sent ``recipient_id`` up to ``at``.
    """

    recipient_id: str


def _millis(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


def _attachment(item: _Attachment) -> Attachment:
    payload = item.payload or _AttachmentPayload()
    if item.type == "location" and payload.coordinates is not None:
        return Attachment(
            kind="location",
            latitude=payload.coordinates.lat,
            longitude=payload.coordinates.long,
            name=item.title or payload.title,
        )
    kind = ATTACHMENT_KINDS.get(item.type, "other")
    return Attachment(kind=kind, url=payload.url, name=item.title or payload.title)  # type: ignore[arg-type]


def parse_messaging(
    data: object, channel: str, object_kind: str, stale: Callable[[datetime], bool] | None = None
) -> WebhookBatch:
    """A Messenger (``object_kind="page"``) or Instagram (``"instagram"``) webhook body as a batch.

    Events Meta dated outside the freshness window (``stale(event time)`` true: the
    event's ``timestamp``, else its entry's ``time``, both signed with the body) are left
    out, logged without their content. :class:`BadPayload` when it is not a webhook body.
    """
    try:
        hook = _Webhook.model_validate(data)
    except ValidationError as exc:
        raise BadPayload(f"not a Meta messaging webhook: {describe_validation_error(exc)}") from None
    if hook.object != object_kind:
        raise BadPayload(f"expected object {object_kind!r}, got {hook.object!r}: check the webhook's URL")
    batch = WebhookBatch()
    for entry in hook.entry:
        for event in entry.messaging:
            sent_at = _millis(event.timestamp) or _millis(entry.time)
            if stale is not None and sent_at is not None and stale(sent_at):
                log.warning(stale_log_line(channel, sent_at))
                continue
            _add_event(batch, event, channel)
    kind = SENDER_KINDS.get(object_kind)
    if kind is not None:  # the channel verified the signature before parsing: the ids are Meta's word
        for message in batch.messages:
            message.identities = VerifiedIdentity.listed(kind, message.sender_id, "provider")
    return batch


def _base_metadata(event: _Event) -> dict[str, str]:
    metadata = {"recipient_id": event.recipient.id}
    if event.timestamp:
        metadata["provider_timestamp"] = str(event.timestamp)
    return metadata


def _add_event(batch: WebhookBatch, event: _Event, channel: str) -> None:
    sender = event.sender.id
    if event.message is not None:
        _add_message(batch, event, event.message, channel)
    elif event.postback is not None:
        postback = event.postback
        if not postback.payload:
            return
        metadata = _base_metadata(event)
        if postback.title:
            metadata["title"] = postback.title
        message_id = postback.mid or f"postback:{sender}:{event.timestamp}"
        batch.messages.append(
            InboundMessage(
                channel=channel,
                sender_id=sender,
                text=postback.payload,
                message_id=message_id,
                metadata=metadata,
            )
        )
    elif event.reaction is not None:
        reaction = event.reaction
        metadata = _base_metadata(event)
        metadata.update(
            reacted_to=reaction.mid,
            reaction_action=reaction.action,
            reaction=reaction.emoji or reaction.reaction or "",
            kind="reaction",
        )
        text = (reaction.emoji or reaction.reaction) if reaction.action == "react" else None
        message_id = f"reaction:{reaction.mid}:{reaction.action}:{event.timestamp}"
        batch.messages.append(
            InboundMessage(
                channel=channel,
                sender_id=sender,
                text=text,
                message_id=message_id,
                metadata=metadata,
                record_only=True,  # a reaction is feedback, not a question: stored, not answered
            )
        )
    elif event.message_edit is not None:
        edit = event.message_edit
        metadata = _base_metadata(event)
        metadata.update(edit_of=edit.mid, kind="edit")
        batch.messages.append(
            InboundMessage(
                channel=channel,
                sender_id=sender,
                text=edit.text,
                message_id=f"{edit.mid}:edit:{edit.num_edit}",
                metadata=metadata,
                record_only=True,
            )
        )
    elif event.delivery is not None:
        _add_receipts(batch, sender, "delivered", event.delivery.mids, event.delivery.watermark)
    elif event.read is not None:
        _add_receipts(batch, sender, "read", [event.read.mid] if event.read.mid else [], event.read.watermark)


def _add_receipts(
    batch: WebhookBatch, client: str, status: ReceiptStatus, mids: Sequence[str], watermark: int | None
) -> None:
    at = _millis(watermark)
    batch.receipts.extend(Receipt(provider_message_id=mid, status=status, at=at) for mid in mids)
    if not mids and at is not None:
        batch.receipts.append(
            WatermarkReceipt(provider_message_id="", status=status, at=at, recipient_id=client)
        )


def _add_message(batch: WebhookBatch, event: _Event, message: _Message, channel: str) -> None:
    if message.is_echo or message.is_deleted:
        return  # our own sends coming back, or a client taking a message back
    sender = event.sender.id
    attachments = [_attachment(a) for a in message.attachments]
    readable = (
        bool(message.text) or message.quick_reply is not None or any(a.kind != "other" for a in attachments)
    )
    shared = [a.type for a in message.attachments if a.type in SHARED_KINDS]
    if not readable and shared and not message.is_unsupported:
        # a story mention or a shared post: worth keeping for the agent, nothing to answer
        metadata = _base_metadata(event)
        metadata.update(kind=shared[0])
        batch.messages.append(
            InboundMessage(
                channel=channel,
                sender_id=sender,
                message_id=message.mid,
                attachments=attachments,
                metadata=metadata,
                record_only=True,
            )
        )
        return
    if message.is_unsupported or not readable:
        kind = message.attachments[0].type if message.attachments else "unsupported"
        batch.unsupported.append(Unsupported(sender_id=sender, provider_message_id=message.mid, kind=kind))
        return
    metadata = _base_metadata(event)
    text = message.text
    if message.quick_reply is not None:
        if text:
            metadata["title"] = text
        text = message.quick_reply.payload
    batch.messages.append(
        InboundMessage(
            channel=channel,
            sender_id=sender,
            text=text,
            message_id=message.mid,
            attachments=attachments,
            metadata=metadata,
        )
    )
