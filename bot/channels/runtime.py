"""Starting and stopping the channels' shared machinery with the app: the outbox and recovery.

``console.app.create_app``'s lifespan calls :func:`start_outbox` once the engine (and so
the database) is up, :func:`recover_pending` to finish messages a crash left unprocessed,
and ``Outbox.stop()`` at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.channels.base import ChannelAdapter, MessageHandler, PushChannel
from bot.channels.outbox import Outbox, OutboxSettings
from bot.channels.outbox_projection import OutboxProjector
from bot.channels.webhook import WebhookChannel

log = logging.getLogger(__name__)


async def start_outbox(
    handler: MessageHandler, adapters: Mapping[str, ChannelAdapter], settings: OutboxSettings | None = None
) -> Outbox | None:
    """An outbox on the engine's database, attached to every push channel and started;
    the outbox projector is installed on the engine's event store.

    None when no mounted channel pushes (only rest and widget) or the handler has no
    event store to share.
    """
    pushing = [adapter for adapter in adapters.values() if isinstance(adapter, PushChannel)]
    store = getattr(handler, "store", None)
    if not pushing:
        return None
    if store is None:
        log.warning("channels %s cannot send: the engine has no event store", [a.name for a in pushing])
        return None
    # the turn's replies become outbox rows in the append's own transaction
    OutboxProjector.install(store, {adapter.name: adapter for adapter in pushing})
    outbox = Outbox(store.engine, settings)
    for adapter in pushing:
        adapter.attach(outbox)
    await outbox.refresh_backlog()
    await outbox.start()
    return outbox


async def recover_pending(handler: MessageHandler, adapters: Mapping[str, ChannelAdapter]) -> int:
    """Process messages stored but never processed (a crash, a restart).

    A message is still ``received`` only if its turn never committed, and a turn commits
    with its outbox rows (:mod:`bot.channels.outbox_projection`), so re-running it sends
    each reply once; other channels' clients see the replies in the conversation's history.
    """
    store = getattr(handler, "store", None)
    if store is None:
        return 0
    pending = await store.pending_inbound()
    for message in pending:
        await handler.process(message)
        channel = adapters.get(message.channel)
        if isinstance(channel, WebhookChannel):
            channel.replies_stored()
    return len(pending)
