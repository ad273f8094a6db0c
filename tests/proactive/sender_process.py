"""One proactive sender in its own process (the two-process test starts two of these).

Usage: python sender_process.py URL SCHEMA NOW ROUNDS (SCHEMA "-" for none); once set up it
prints ``ready`` and waits for a line on stdin, so the processes start sending together; then
prints how many messages this process sent. The test's own outbox delivers their rows.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from bot.channels.outbox_projection import OutboxProjector
from bot.channels.whatsapp_cloud import CloudWhatsAppChannel, CloudWhatsAppConfig
from bot.store import EventStore
from proactive.config import ProactiveConfig
from proactive.schedule import ProactiveProjector
from proactive.sender import ProactiveSender
from tests.proactive.proactive_support import PHONE_ID, REMINDER_TEMPLATE, TOKEN, StoreHistory


async def main(url: str, schema: str | None, now: datetime, rounds: int) -> int:
    store = EventStore.from_url(url, schema=schema)
    config = CloudWhatsAppConfig(
        phone_number_id=PHONE_ID,
        access_token=TOKEN,
        app_secret="meta-app-secret-for-tests",
        verify_token="verify-token-for-tests",
        api_base_url="http://127.0.0.1:9",  # never called: this process only stores and queues
        templates={"appointment_reminder": REMINDER_TEMPLATE},
    )
    channel = CloudWhatsAppChannel(config)
    channel.clock = lambda: now
    channel.handler = StoreHistory(store)  # type: ignore[assignment]
    try:
        OutboxProjector.install(store, {channel.name: channel})
        proactive = ProactiveConfig(max_per_client=10)
        store.add_projector(ProactiveProjector(proactive))
        sender = ProactiveSender(store, proactive, {channel.name: channel}, clock=lambda: now)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the test says go
        sent = 0
        for _ in range(rounds):
            sent += await sender.run_round()
        print(f"outcomes: {sender.outcomes}", file=sys.stderr)
        return sent
    finally:
        await channel.close()
        await store.close()


if __name__ == "__main__":
    url, schema, now, rounds = sys.argv[1:5]
    moment = datetime.fromisoformat(now)
    print(asyncio.run(main(url, None if schema == "-" else schema, moment, int(rounds))))
