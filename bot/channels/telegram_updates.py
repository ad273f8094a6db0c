"""Telegram updates as our messages: what python-telegram-bot's ``Update`` models mean for the bot.

- ``message``: text (or a media caption); photos (the largest size), voice notes, audio,
  documents, videos, video notes and animations become attachments whose ``url`` is
  ``telegram-file:<file_id>``; locations and venues; contacts.
- Identity: in a private chat the sender's Telegram id is a verified identity (the update
  came from Telegram: the webhook's secret token, or our own polling), and so is the
  sender's own number when they share their contact (Telegram sets ``contact.user_id`` to
  the sharer's id only for their own number; E.164). In a group nobody is recognised: the
  conversation is the group's. The sender's display name is only a hint.
- ``callback_query`` (an inline keyboard press): its ``data`` is the text, the pressed
  button's label ``metadata["title"]``, the query id ``metadata["telegram_callback_query_id"]``.
- ``edited_message``: the new text, with ``metadata["edit_of"]`` and ``record_only`` (stored,
  not answered: the original was).
- stickers, polls, dice, games, stories: :class:`~bot.channels.webhook.Unsupported`.
- anything else (service messages, channel posts, membership changes): nothing.

The message id is ``update:<update_id>``: Telegram redelivers an update with the same id.
A message's own id (``metadata["telegram_message_id"]``, ``edit_of``) is Telegram's message id
alone, unique within its chat (the conversation): the chat id is the client's address and
stays in ``channel_addresses``, never in events or logs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import CallbackQuery, Chat, Contact, InlineKeyboardMarkup, Message, Update, User

from bot.channels.webhook import Unsupported, WebhookBatch
from bot.errors import BadPayload
from bot.models import Attachment, ContactHints, InboundMessage, VerifiedIdentity

FILE_SCHEME = "telegram-file:"
SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "pinned_message",
    "group_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
)
UNSUPPORTED_KINDS = ("sticker", "poll", "dice", "game", "story", "invoice", "paid_media", "checklist")


def parse_update(data: object, channel: str = "telegram") -> WebhookBatch:
    """One Bot API update (the decoded JSON) as a :class:`WebhookBatch`.

    :class:`BadPayload` when ``data`` is not an update.
    """
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadPayload("expected a Telegram update: a JSON object with an integer update_id")
    try:
        update = Update.de_json(data, None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadPayload(f"not a readable Telegram update ({type(exc).__name__})") from None
    return batch_from_update(update, channel)


def update_date(data: object) -> datetime | None:
    """When Telegram says an update's message was sent (or edited): ``date`` / ``edit_date``,
    Unix seconds; None for updates without one (a button press, a member change)."""
    if not isinstance(data, dict):
        return None
    for key, stamp in (("message", "date"), ("edited_message", "edit_date"), ("edited_message", "date")):
        message = data.get(key)
        value = message.get(stamp) if isinstance(message, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None


def batch_from_update(update: Update, channel: str = "telegram") -> WebhookBatch:
    """What an update means for us: a client message, an unsupported kind, or nothing."""
    message_id = f"update:{update.update_id}"
    if update.message is not None:
        return _from_message(update.message, message_id, channel)
    if update.edited_message is not None:
        edited = update.edited_message
        batch = _from_message(edited, message_id, channel)
        for inbound in batch.messages:
            inbound.metadata["edit_of"] = _message_ref(edited)
            inbound.metadata["kind"] = "edit"
            inbound.record_only = True  # the original was answered already
        # an edit of a sticker or poll needs no second apology
        return WebhookBatch(messages=batch.messages)
    if update.callback_query is not None:
        return _from_callback(update.callback_query, message_id, channel)
    return WebhookBatch()


def _message_ref(message: Message) -> str:
    """The message's id within its chat (the conversation): never the chat id, an address."""
    return str(message.message_id)


def _sender_metadata(message: Message) -> dict[str, str]:
    metadata = {"telegram_message_id": _message_ref(message)}
    user = message.from_user
    if user is not None:
        if user.username:
            metadata["telegram_username"] = user.username
        if user.language_code:
            metadata["language_code"] = user.language_code
    return metadata


def _proven(chat: Chat | None, user: User | None, contact: Contact | None = None) -> list[VerifiedIdentity]:
    """What Telegram vouches for about the sender of a private chat's update."""
    if user is None or chat is None or chat.type != Chat.PRIVATE:
        return []
    found = [VerifiedIdentity(kind="telegram", value=str(user.id), proof="provider")]
    if contact is not None and contact.user_id == user.id:
        phone = _e164(contact.phone_number)
        if phone:  # the client shared their own number
            found.append(VerifiedIdentity(kind="phone", value=phone, proof="provider"))
    return found


def _name_hint(user: User | None) -> ContactHints:
    name = user.full_name.strip()[:200] if user is not None else ""
    return ContactHints(name=name or None)


def _e164(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}" if digits else ""


def _from_message(message: Message, message_id: str, channel: str) -> WebhookBatch:
    sender_id = str(message.chat.id)
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None) is not None:
            return WebhookBatch(
                unsupported=[Unsupported(sender_id=sender_id, provider_message_id=message_id, kind=kind)]
            )
    attachments = _attachments(message)
    metadata = _sender_metadata(message)
    text = message.text if message.text is not None else message.caption
    if text is None and not attachments:
        # a service message (someone joined, a pinned message...) or a kind we do not know
        if any(getattr(message, name, None) for name in SERVICE_FIELDS):
            return WebhookBatch()
        return WebhookBatch(
            unsupported=[Unsupported(sender_id=sender_id, provider_message_id=message_id, kind="other")]
        )
    inbound = InboundMessage(
        channel=channel,
        sender_id=sender_id,
        text=text,
        message_id=message_id,
        attachments=attachments,
        metadata=metadata,
        identities=_proven(message.chat, message.from_user, message.contact),
        hints=_name_hint(message.from_user),
    )
    return WebhookBatch(messages=[inbound])


def _file(kind: str, file_id: str, mime_type: str | None = None, name: str | None = None) -> Attachment:
    return Attachment(kind=kind, url=f"{FILE_SCHEME}{file_id}", mime_type=mime_type, name=name)  # type: ignore[arg-type]


def _attachments(message: Message) -> list[Attachment]:
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]  # Telegram lists the sizes smallest first
        found.append(_file("image", largest.file_id, "image/jpeg"))
    if message.voice is not None:
        found.append(_file("audio", message.voice.file_id, message.voice.mime_type or "audio/ogg"))
    if message.audio is not None:
        found.append(_file("audio", message.audio.file_id, message.audio.mime_type, message.audio.file_name))
    if message.video is not None:
        found.append(_file("video", message.video.file_id, message.video.mime_type, message.video.file_name))
    if message.video_note is not None:
        found.append(_file("video", message.video_note.file_id, "video/mp4"))
    if message.animation is not None:
        animation = message.animation
        found.append(_file("video", animation.file_id, animation.mime_type, animation.file_name))
    elif message.document is not None:  # an animation also carries its document twin
        document = message.document
        kind = "image" if (document.mime_type or "").startswith("image/") else "document"
        found.append(_file(kind, document.file_id, document.mime_type, document.file_name))
    venue = message.venue
    location = venue.location if venue is not None else message.location
    if location is not None:
        found.append(
            Attachment(
                kind="location",
                latitude=location.latitude,
                longitude=location.longitude,
                name=venue.title if venue is not None else None,
            )
        )
    if message.contact is not None:
        contact = message.contact
        name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
        phone = _e164(contact.phone_number)
        found.append(Attachment(kind="contact", name=name or None, url=f"tel:{phone}" if phone else None))
    return found


def _pressed_title(query: CallbackQuery) -> str | None:
    message = query.message
    markup = getattr(message, "reply_markup", None) if message is not None else None
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def _from_callback(query: CallbackQuery, message_id: str, channel: str) -> WebhookBatch:
    chat = query.message.chat if query.message is not None else None
    sender_id = str(chat.id if chat is not None else query.from_user.id)
    metadata = {"telegram_callback_query_id": query.id}
    if query.from_user.username:
        metadata["telegram_username"] = query.from_user.username
    title = _pressed_title(query)
    if title:
        metadata["title"] = title
    if not query.data:  # a game button: nothing for the bot to read
        return WebhookBatch(
            unsupported=[
                Unsupported(sender_id=sender_id, provider_message_id=message_id, kind="callback_game")
            ]
        )
    inbound = InboundMessage(
        channel=channel,
        sender_id=sender_id,
        text=query.data,
        message_id=message_id,
        metadata=metadata,
        identities=_proven(chat, query.from_user),
        hints=_name_hint(query.from_user),
    )
    return WebhookBatch(messages=[inbound])
