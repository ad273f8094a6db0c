"""One client seeded across every channel and store, through the stores' own code.

:func:`seed_person` writes, for one person: a profile with every identity kind (phone,
e-mail, Telegram, Instagram, Messenger, widget), a visit and a note, a second profile
merged into it; conversations on WhatsApp (Twilio and Cloud API), Telegram, e-mail (with
an attachment file), the widget, Messenger and Instagram (opaque ids, addresses in
``channel_addresses``), and one WhatsApp conversation from before opaque ids, each with an inbound journal
row and events (their message, the recognition slots, the bot's reply); an outbox row;
a knowledge gap from their question (event and read model); audit entries about them
(their phone among the values) and one about an article. What it returns says how to find
all of it again (notations of the phone included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from actions.bookings import BookingRepository
from actions.mariia_catalog import Catalog
from bot.audit import AuditLog, write_entry
from bot.channels.addresses import AddressBook, split_conversation_id
from bot.channels.email.files import AttachmentFiles
from bot.channels.email.parse import EmailFile
from bot.channels.outbox import outbox_insert
from bot.events import BotUttered, KnowledgeGapNoted, SlotSet, UserUttered
from bot.models import Attachment, InboundMessage, OutboundMessage
from bot.store import EventStore
from handoff.clients import ClientStore, ClientUpsert
from handoff.identity import Identity
from handoff.profiles import Visit
from knowledge.gaps import register_gap_projection


class AuditOnConnection:
    """The client store's audit seam over the console's audit table (merges are audited)."""

    async def write(
        self, conn: AsyncConnection, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        """One ``console_audit`` row on the merge's own connection."""
        await write_entry(conn, datetime.now(UTC), actor, None, action, target, detail)


@dataclass
class Person:
    """What was seeded for one person, and the strings that give them away."""

    client_id: str
    phone_e164: str
    phone_notations: list[str]
    email: str
    first_name: str
    last_name: str
    conversations: list[str] = field(default_factory=list)
    attachment: Path | None = None

    @property
    def needles(self) -> list[str]:
        """Every string that must not survive an erase (lower-case search)."""
        return [*self.phone_notations, self.email, self.first_name, self.last_name]


def notations(e164: str) -> list[str]:
    """``+48601234567`` as people write it: E.164, wa_id, national, spaced, dashed, 00-prefixed."""
    national = e164[3:]
    spaced = f"{national[:3]} {national[3:6]} {national[6:]}"
    return [
        e164,
        e164[1:],
        national,
        spaced,
        f"+48 {spaced}",
        f"{national[:3]}-{national[3:6]}-{national[6:]}",
        f"0048{national}",
    ]


async def seed_person(
    store: EventStore,
    files_dir: Path,
    *,
    phone: str,
    email: str,
    first: str,
    last: str,
    handle: str,
    numeric: str,
    bookings_url: str | None = None,
) -> Person:
    """Seed one person everywhere (see the module docstring); ``handle`` and ``numeric`` make
    their social and widget ids unique."""
    clients = ClientStore(store.engine, audit=AuditOnConnection())
    identities = [
        Identity.of("phone", phone),
        Identity.of("email", email),
        Identity.of("telegram", numeric),
        Identity.of("instagram", handle),
        Identity.of("messenger", f"psid{numeric}"),
        Identity.of("widget", f"w-{handle}"),
    ]
    profile = await clients.upsert(
        ClientUpsert(
            first_name=first,
            last_name=last,
            birthday=date(1990, 5, 17),
            identities=identities,
            visits=[Visit(visited_on=date.today(), category="hair", service="Cut", amount=250, staff="Ola")],
            notes=[f"{first} prefers mornings; call {phone}"],
            preferences={"drink": "green tea"},
        )
    )
    # a second profile (an older widget visit) that a later proof merged into the first
    other = await clients.identify([Identity.of("widget", f"w-old-{handle}")], first_name=first)
    await clients.merge(profile.id, other.id)
    e164 = Identity.of("phone", phone).value
    person = Person(profile.id, e164, notations(e164), email, first, last)

    files = AttachmentFiles(files_dir / "email", url_prefix="/webhooks/email/attachments", max_bytes=1 << 20)
    attachment = await files.save(
        EmailFile(
            name=f"{last.lower()}-referral.pdf",
            mime_type="application/pdf",
            kind="document",
            content=f"%PDF referral for {first} {last}, tel. {phone}".encode(),
        )
    )
    assert attachment.url is not None
    person.attachment = files_dir / "email" / attachment.url[-64:][:2] / attachment.url[-64:]

    senders = {
        "whatsapp": e164,
        "whatsapp_cloud": e164[1:],
        "telegram": numeric,
        "email": email,
        "widget": f"w-{handle}",
        "messenger": f"psid{numeric}",
        "instagram": handle,
    }
    # the push channels' conversation ids are opaque, their addresses on file
    # (bot/channels/addresses.py), as the adapters write them; the widget's is its session
    book = AddressBook(store.engine)
    for channel, sender in senders.items():
        if channel != "widget":
            sender = split_conversation_id(await book.remember(channel, sender))[1]
        files_here = [attachment] if channel == "email" else []
        text = f"Hi, {first} {last} here ({phone}, {email}): can I move my booking?"
        await _conversation(store, channel, sender, text, files_here, profile.id, first)
        person.conversations.append(f"{channel}:{sender}")
    # a WhatsApp conversation stored before opaque ids (revision 0011): the phone is its id
    text = f"Hello from my old chat, {first} {last}"
    await _conversation(store, "whatsapp", e164, text, [], profile.id, first)
    person.conversations.append(f"whatsapp:{e164}")
    whatsapp = person.conversations[0]
    token = split_conversation_id(whatsapp)[1]

    async with store.engine.begin() as conn:
        reply = OutboundMessage(channel="whatsapp", recipient_id=token, text=f"See you soon, {first}!")
        await conn.execute(outbox_insert(store.dialect, [(f"seed:{token}", reply)], datetime.now(UTC)))
    # a knowledge gap from their question: the event, and the gaps read model it projects to
    # (kb_gaps and the cluster whose example it becomes), as the knowledge action writes it
    await register_gap_projection(store)
    question = f"Is parking free for {first} {last}?"
    gap = KnowledgeGapNoted(question=question, language="en", reason="no_answer", score=0.1)
    await store.append(whatsapp, [gap])
    log = AuditLog(store.engine)
    await log.record(
        "kasia", "client.update", f"client:{profile.id}", {"last_name": {"from": "", "to": last}}
    )
    await log.record("anna", "workspace.reply", f"conversation:{whatsapp}", {"text": f"Hello {first}"})
    await log.record("kasia", "client.update", f"client:{profile.id}", {"phone": {"from": "", "to": phone}})
    # an entry about something else: an erase leaves it alone
    await log.record("kasia", "knowledge.publish", "article:parking", {"title": "Parking"})
    if bookings_url is not None:  # the demo actions' bookings, a database of their own
        async with BookingRepository(bookings_url, seed_dir=files_dir / "no-seed") as repo:
            service = Catalog.load().find_service("manicure")
            assert service is not None
            starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
            await repo.create(service, "mokotow", starts, client_name=f"{first} {last}", sender_id=token)
    return person


async def _conversation(
    store: EventStore,
    channel: str,
    sender: str,
    text: str,
    attachments: list[Attachment],
    client_id: str,
    first: str,
) -> None:
    message = InboundMessage(
        channel=channel,
        sender_id=sender,
        text=text,
        attachments=attachments,
        metadata={"contact_name": first},
    )
    assert await store.record_inbound(message)
    metadata = {"attachments": json.dumps([a.model_dump() for a in attachments])} if attachments else {}
    await store.append(
        message.conversation_id,
        [
            UserUttered(text=text, input_channel=channel, message_id=message.message_id, metadata=metadata),
            SlotSet(name="client_id", value=client_id),
            SlotSet(name="client_first_name", value=first),
            BotUttered(text=f"Of course, {first}! Which day suits you?"),
        ],
        outcome=(message.message_id, "processed", None),
    )
