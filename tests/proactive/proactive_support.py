"""What the proactive tests share: a clock, the engine's history read from the store, and the
WhatsApp Cloud channel wired to its stand-in through the real outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.outbox import Outbox, OutboxSettings
from bot.channels.outbox_projection import OutboxProjector
from bot.channels.whatsapp_cloud import CloudTemplate, CloudWhatsAppChannel, CloudWhatsAppConfig
from bot.models import TranscriptEntry
from bot.store import EventStore
from bot.transcript import transcript_entry
from tests.bot.channels.helpers import serving
from tests.bot.channels.standins.whatsapp_cloud import CloudApiStandIn

PHONE_ID = "106540352242922"
TOKEN = "EAAG-cloud-api-token-for-tests"
CLIENT = "48601234567"
FAST = OutboxSettings(base_delay=0.02, max_delay=0.1, poll_interval=0.05, max_attempts=3, lease_seconds=5)
REMINDER_TEMPLATE = CloudTemplate(
    name="appointment_reminder_v2", language="pl", parameters=["{service_name}", "{when}", "{reference}"]
)


class Clock:
    """A clock the test moves (timezone-aware UTC)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class StoreHistory:
    """The engine's ``history`` (the same fold of the same log), for the channel's window check."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def history(self, conversation_id: str, after_seq: int | None = None) -> list[TranscriptEntry]:
        stored = await self.store.load(conversation_id, after_seq=after_seq)
        return [e for e in (transcript_entry(s.seq, s.event) for s in stored) if e is not None]


@dataclass
class WhatsApp:
    """The channel, its outbox and Meta's stand-in."""

    channel: CloudWhatsAppChannel
    outbox: Outbox
    meta: CloudApiStandIn

    async def conversation(self, address: str = CLIENT) -> str:
        assert self.outbox.addresses is not None
        return await self.outbox.addresses.remember(self.channel.name, address)


@asynccontextmanager
async def whatsapp(store: EventStore, *, templates: bool = True) -> AsyncIterator[WhatsApp]:
    """WhatsApp Cloud on ``store`` through the real outbox, sending to the stand-in."""
    meta = CloudApiStandIn(TOKEN, PHONE_ID)
    async with serving(meta.app) as url:
        config = CloudWhatsAppConfig(
            phone_number_id=PHONE_ID,
            access_token=TOKEN,
            app_secret="meta-app-secret-for-tests",
            verify_token="verify-token-for-tests",
            api_base_url=url,
            templates={"appointment_reminder": REMINDER_TEMPLATE} if templates else {},
        )
        channel = CloudWhatsAppChannel(config)
        channel.handler = StoreHistory(store)  # type: ignore[assignment]
        OutboxProjector.install(store, {channel.name: channel})
        outbox = Outbox(store.engine, FAST)
        channel.attach(outbox)
        await outbox.start()
        try:
            yield WhatsApp(channel, outbox, meta)
        finally:
            await outbox.stop()
            await channel.close()
