"""Which channels exist: one line per provider, and mounting them on the web app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from bot.channels.base import ChannelAdapter, MessageHandler
from bot.channels.email import EmailChannel
from bot.channels.instagram import InstagramChannel
from bot.channels.limits import ChatGuard
from bot.channels.messenger import MessengerChannel
from bot.channels.rest import RestChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp_cloud import CloudWhatsAppChannel
from bot.channels.whatsapp_twilio import TwilioWhatsAppChannel
from bot.channels.widget import WidgetChannel
from bot.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.channels.credentials import Credentials
    from bot.settings import Settings

CHANNELS: dict[str, type[ChannelAdapter]] = {
    RestChannel.name: RestChannel,
    WidgetChannel.name: WidgetChannel,
    EmailChannel.name: EmailChannel,
    TwilioWhatsAppChannel.name: TwilioWhatsAppChannel,
    CloudWhatsAppChannel.name: CloudWhatsAppChannel,
    TelegramChannel.name: TelegramChannel,
    MessengerChannel.name: MessengerChannel,
    InstagramChannel.name: InstagramChannel,
}


def adapter_class(name: str) -> type[ChannelAdapter]:
    """The adapter class for a channel name; :class:`ConfigError` lists the known ones."""
    try:
        return CHANNELS[name]
    except KeyError:
        known = ", ".join(sorted(CHANNELS))
        raise ConfigError(f"unknown channel {name!r}; known channels: {known}") from None


def mount_channels(
    app: FastAPI,
    handler: MessageHandler,
    names: Iterable[str],
    settings: Settings | None = None,
    credentials: Credentials | None = None,
    guard: ChatGuard | None = None,
    staff: Callable[..., Awaitable[object]] | None = None,
) -> dict[str, ChannelAdapter]:
    """Build each named adapter and mount its routes at ``/webhooks/<name>``.

    An adapter listed in ``credentials`` (``credentials.yml``) is built from its section.
    Every adapter gets ``guard`` (text length, sender rate, webhook freshness; the
    defaults without one) and ``staff``, the sign-in check for routes meant for staff
    (the console's, passed in by the app). Returns the adapters by name, so the app can ask their health
    and close them.
    """
    adapters: dict[str, ChannelAdapter] = {}
    for name in names:
        if name in adapters:
            continue
        cls = adapter_class(name)
        section = credentials.section(name) if credentials is not None else None
        if section is not None:
            adapter = cls.from_credentials(section, settings)
        else:
            adapter = cls.from_settings(settings)
        if guard is not None:
            adapter.guard = guard
        adapter.staff = staff
        app.include_router(adapter.router(handler), prefix=f"/webhooks/{name}")
        adapters[name] = adapter
    return adapters
