"""Thread lookups over the real inbound journal and outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi import APIRouter

from bot.channels.base import ChannelSection, MessageHandler, PushChannel
from bot.channels.email.threads import ThreadIndex
from bot.channels.outbox import Outbox, OutboxSettings, RateLimit
from bot.errors import ChannelError
from bot.models import Button, ContactHints, InboundMessage, OutboundMessage, VerifiedIdentity
from bot.store import EventStore

ANA = "ana.kowalska@example.com"
FAST = OutboxSettings(base_delay=0.01, max_delay=0.05, poll_interval=0.02, max_attempts=1)


class NumberedSends(PushChannel):
    """Stands in for the email channel's SMTP side: our n-th send gets Message-ID <our-n@...>."""

    name = "email"

    def __init__(self, fail: set[int] | None = None) -> None:
        super().__init__(ChannelSection(rate_limit=RateLimit(per_second=1000, burst=1000)))
        self.sent = 0
        self.fail = fail or set()

    def router(self, handler: MessageHandler) -> APIRouter:
        return APIRouter()

    async def deliver(self, message: OutboundMessage) -> str | None:
        self.sent += 1
        if self.sent in self.fail:
            raise ChannelError("550 no", retryable=False)
        return f"<our-{self.sent}@mariia-hub.test>"


async def send(outbox: Outbox, text: str, buttons: list[Button] | None = None, to: str = ANA) -> None:
    await outbox.enqueue(OutboundMessage(channel="email", recipient_id=to, text=text, buttons=buttons or []))
    await outbox.drain(within=10)


def client_mail(message_id: str, **metadata: str) -> InboundMessage:
    return InboundMessage(
        channel="email",
        sender_id=ANA,
        text="hi",
        message_id=message_id,
        metadata={"email_message_id": message_id, **metadata},
    )


async def test_a_mail_answering_ours_is_traced_to_its_conversation(migrated_store: EventStore) -> None:
    outbox = Outbox(migrated_store.engine, FAST)
    outbox.register(NumberedSends())
    await send(outbox, "first", to=ANA)
    await send(outbox, "other client", to="bo@example.com")
    threads = ThreadIndex(migrated_store.engine, "email")
    assert await threads.conversation_of_our_mail(["<unknown@x>", "<our-1@mariia-hub.test>"]) == ANA
    assert await threads.conversation_of_our_mail(["<our-2@mariia-hub.test>", "<our-1@mariia-hub.test>"]) == (
        "bo@example.com"  # the nearest reference wins
    )
    assert await threads.conversation_of_our_mail(["<unknown@x>"]) is None
    assert await threads.conversation_of_our_mail([]) is None
    assert (
        await ThreadIndex(migrated_store.engine, "whatsapp").conversation_of_our_mail(
            ["<our-1@mariia-hub.test>"]
        )
        is None
    )


async def test_numbered_answers_read_the_buttons_of_the_mail_they_answer(migrated_store: EventStore) -> None:
    outbox = Outbox(migrated_store.engine, FAST)
    outbox.register(NumberedSends(fail={3}))
    first = [Button(title="Opening hours", payload="/ask_hours")]
    second = [Button(title="Book", payload="/book"), Button(title="Prices", payload="/prices")]
    await send(outbox, "one", first)
    await send(outbox, "two", second)
    await send(outbox, "three: never reached the client", [Button(title="X", payload="/x")])
    threads = ThreadIndex(migrated_store.engine, "email")
    conversation = f"email:{ANA}"
    assert await threads.buttons_answered(conversation, ["<our-1@mariia-hub.test>"]) == first
    assert await threads.buttons_answered(conversation, ["<elsewhere@x>"]) == second  # our latest sent one
    assert await threads.buttons_answered(conversation, []) == second
    assert await threads.buttons_answered("email:bo@example.com", []) == []


async def test_replies_thread_under_the_latest_client_mail(migrated_store: EventStore) -> None:
    threads = ThreadIndex(migrated_store.engine, "email")
    conversation = f"email:{ANA}"
    assert await threads.latest_client_mail(conversation) is None
    first = client_mail("<c1@x>", email_subject="Question").model_copy(
        update={
            "identities": [VerifiedIdentity(kind="email", value=ANA, proof="provider")],
            "hints": ContactHints(name="Ana Kowalska"),
        }
    )
    await migrated_store.record_inbound(first)
    first_mail = await threads.latest_client_mail(conversation)
    assert first_mail is not None and (first_mail.reply_to, first_mail.reply_name) == (ANA, "Ana Kowalska")
    # a row journalled before identities were typed kept the address in its metadata
    await migrated_store.record_inbound(
        client_mail(
            "<c2@x>",
            email_subject="Re: Re: Question",
            email_references="<c1@x> <our-1@mariia-hub.test>",
            contact_email="ana@work.example",
        )
    )
    latest = await threads.latest_client_mail(conversation)
    assert latest is not None
    assert (latest.topic, latest.in_reply_to, latest.references) == (
        "Question",
        "<c2@x>",
        ["<c1@x>", "<our-1@mariia-hub.test>"],
    )
    assert (latest.reply_to, latest.reply_name) == ("ana@work.example", None)
    assert latest.reply_references() == ["<c1@x>", "<our-1@mariia-hub.test>", "<c2@x>"]


async def test_a_conversation_without_client_mail_has_no_thread(migrated_store: EventStore) -> None:
    await migrated_store.record_inbound(
        InboundMessage(channel="email", sender_id=ANA, text="typed in the console")
    )
    assert await ThreadIndex(migrated_store.engine, "email").latest_client_mail(f"email:{ANA}") is None
