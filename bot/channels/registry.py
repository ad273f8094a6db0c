"""Which channels exist: one line per provider, and mounting them on the web app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.channels.base import ChannelAdapter, MessageHandler
from bot.channels.rest import RestChannel
from bot.channels.widget import WidgetChannel
from bot.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.settings import Settings

CHANNELS: dict[str, type[ChannelAdapter]] = {
    RestChannel.name: RestChannel,
    WidgetChannel.name: WidgetChannel,
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
) -> dict[str, ChannelAdapter]:
    """Build each named adapter and mount its routes at ``/webhooks/<name>``.

    Returns the adapters by name, so the app can ask their health and close them.
    """
    adapters: dict[str, ChannelAdapter] = {}
    for name in names:
        if name in adapters:
            continue
        adapter = adapter_class(name).from_settings(settings)
        app.include_router(adapter.router(handler), prefix=f"/webhooks/{name}")
        adapters[name] = adapter
    return adapters
