"""The app with the composition root's services: what ``concierge run`` serves, and the
factory uvicorn's worker processes call (``concierge run --workers N``).

:func:`create_app` is :func:`console.app.create_app` whose lifespan builds the running bot
with :func:`concierge.compose.build_services` (the console never imports this package).

Each worker is a fresh interpreter (uvicorn spawns them), so the app is built from the
environment: ``concierge run`` puts its options there (``CONCIERGE_PROJECT_DIR``,
``CONCIERGE_MODEL_DIR``, ...) before starting the workers. Nothing is built at import time.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bot.settings import Settings
from concierge.compose import build_services
from console.app import create_app as create_console_app

#: The WebSocket settings ``concierge run`` serves with (one place, for one worker and for
#: ``--workers N``). Chosen for thousands of idle widget sockets per worker, measured with
#: ``bench/sockets.py`` (docs/benchmarks.md, "Idle widget sockets"):
#:
#: - ``ws``: uvicorn's sans-I/O protocol on ``websockets`` (no task per socket; a keepalive
#:   is a timer), uvicorn's own default. ``wsproto`` held less (23.9 against 32.3 KiB per idle
#:   widget socket, 2,000 sockets, the whole app) but is not a dependency yet: the next step.
#: - ``ws_per_message_deflate`` off: a compressing socket keeps its zlib streams for as long
#:   as it is open (about 40 KiB each, measured), and widget frames are a few hundred bytes.
#: - ``ws_ping_interval`` / ``ws_ping_timeout`` 30 s: a ping every 30 s keeps the socket
#:   through load balancers and proxies that close idle connections after 60 s, and a client
#:   that vanished without closing (a phone losing its network) is dropped within a minute,
#:   freeing its memory. 20 s (uvicorn's default) cost idle CPU for nothing.
#: - ``ws_max_size`` 1 MiB: a client cannot make the server buffer uvicorn's default 16 MiB
#:   per frame; the widget answers a frame over 64 K characters (up to 256 KiB in UTF-8)
#:   with its own friendly error, and the console's frames are smaller still.
WEBSOCKET_OPTIONS: dict[str, Any] = {
    "ws": "websockets-sansio",
    "ws_per_message_deflate": False,
    "ws_ping_interval": 30.0,
    "ws_ping_timeout": 30.0,
    "ws_max_size": 1024 * 1024,
}


def create_app(settings: Settings, **options: Any) -> FastAPI:
    """The whole web app for ``settings``, building its services in the lifespan unless given
    ``services`` or ``engine`` (see :func:`console.app.create_app` for ``options``)."""
    return create_console_app(settings, build=build_services, **options)


def create_app_from_env() -> FastAPI:
    """The whole web app for the settings in the environment (``CONCIERGE_*``)."""
    return create_app(Settings())
