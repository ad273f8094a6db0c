"""Messages crossing the channel boundary.

A channel adapter turns a provider's request into an :class:`InboundMessage`; the engine
answers with :class:`OutboundMessage` objects that the same adapter sends. Nothing
provider-specific travels past the adapter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Button(BaseModel):
    """A quick reply: the client sees ``title``; choosing it sends ``payload`` (e.g. ``/book``)."""

    title: str
    payload: str


class Attachment(BaseModel):
    """Media or structured content a client sent or the bot sends."""

    kind: Literal["image", "audio", "video", "document", "location", "contact", "other"]
    url: str | None = None
    mime_type: str | None = None
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


#: how a channel proved an identity: a provider's signed webhook or our own mailbox
#: (``provider``), a token the website signed for its logged-in customer (``site_token``)
IdentityProof = Literal["provider", "site_token"]
#: the kinds of identity a channel can prove (the client store's kinds, minus widget sessions)
VerifiedKind = Literal["phone", "email", "telegram", "instagram", "messenger"]


class VerifiedIdentity(BaseModel):
    """An identity the channel proved, set by the adapter only after verifying the request.

    The only thing that recognises a client or merges two profiles. ``value`` is as the
    provider gave it; the client store normalises it (E.164 phones, lower-case e-mail).
    """

    model_config = ConfigDict(frozen=True)
    kind: VerifiedKind
    value: str = Field(min_length=1, max_length=320)
    proof: IdentityProof

    @classmethod
    def listed(cls, kind: VerifiedKind, value: str, proof: IdentityProof) -> list[VerifiedIdentity]:
        """``[identity]``, or ``[]`` when the provider gave no usable value (empty or over
        320 characters): a malformed sender stays anonymous instead of failing the request."""
        value = value.strip()
        return [cls(kind=kind, value=value, proof=proof)] if 0 < len(value) <= 320 else []


class ContactHints(BaseModel):
    """Contact details the sender claims (a REST caller's metadata, a display name).

    Never proof: hints never recognise a client, never merge profiles and never create
    one; agents see them labelled unverified. A display name only fills an empty first
    name of the profile a verified identity already found.
    """

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)

    def is_empty(self) -> bool:
        """Whether no hint is given."""
        return not (self.name or self.phone or self.email)


class InboundMessage(BaseModel):
    """One message from a client, as any channel delivers it.

    ``message_id`` is the provider's id when it has one, so a retried delivery is
    recognised and processed once. ``identities`` are what the channel proved about the
    sender (empty for an anonymous widget visitor or a REST caller); ``hints`` are what
    the sender merely claims.
    """

    channel: str
    sender_id: str
    text: str | None = None
    message_id: str = Field(default_factory=_new_id)
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    identities: list[VerifiedIdentity] = Field(default_factory=list)
    hints: ContactHints = Field(default_factory=ContactHints)
    received_at: datetime = Field(default_factory=_now)
    #: stored in the conversation but not answered (a reaction, an edit of an answered message)
    record_only: bool = False

    @model_validator(mode="before")
    @classmethod
    def _legacy_record_only(cls, data: Any) -> Any:
        # journal rows stored before the typed field carry the flag as
        # ``metadata["record_only"] = "true"`` (every channel now sets the field itself): read
        # it once, here, so recovery replays such a row as record-only
        if isinstance(data, dict) and "record_only" not in data:
            metadata = data.get("metadata")
            if isinstance(metadata, dict) and metadata.get("record_only") == "true":
                data = {**data, "record_only": True}
        return data

    @property
    def conversation_id(self) -> str:
        """The conversation key: one conversation per client per channel."""
        return f"{self.channel}:{self.sender_id}"


class OutboundMessage(BaseModel):
    """One message for a client; the adapter renders it in its provider's format."""

    channel: str
    recipient_id: str
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    attachment: Attachment | None = None
    custom: dict[str, object] | None = None
    sender: Literal["bot", "agent", "system"] = "bot"
    #: set by the outbox when it hands a stored message to ``deliver``: a key unique to the
    #: outbox row and the same on every attempt (for providers that dedupe sends on a key of ours)
    idempotency_key: str | None = None

    def to_rasa(self) -> dict[str, object]:
        """Render as one element of Rasa's REST channel response."""
        out: dict[str, object] = {"recipient_id": self.recipient_id}
        if self.text is not None:
            out["text"] = self.text
        if self.buttons:
            out["buttons"] = [b.model_dump() for b in self.buttons]
        if self.image:
            out["image"] = self.image
        if self.attachment:
            out["attachment"] = self.attachment.model_dump(exclude_none=True)
        if self.custom is not None:
            out["custom"] = self.custom
        return out


class TranscriptEntry(BaseModel):
    """One line of a conversation as a client or agent sees it, numbered by event ``seq``."""

    seq: int
    sender: Literal["client", "bot", "agent", "system"]
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    timestamp: float
    message_id: str | None = None


class ComponentHealth(BaseModel):
    """The state of one component on ``GET /health``."""

    status: Literal["ok", "degraded", "down"]
    detail: str = ""
