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


def create_app(settings: Settings, **options: Any) -> FastAPI:
    """The whole web app for ``settings``, building its services in the lifespan unless given
    ``services`` or ``engine`` (see :func:`console.app.create_app` for ``options``)."""
    return create_console_app(settings, build=build_services, **options)


def create_app_from_env() -> FastAPI:
    """The whole web app for the settings in the environment (``CONCIERGE_*``)."""
    return create_app(Settings())
