"""The app factory uvicorn's worker processes call (``concierge run --workers N``).

Each worker is a fresh interpreter (uvicorn spawns them), so the app is built from the
environment: ``concierge run`` puts its options there (``CONCIERGE_PROJECT_DIR``,
``CONCIERGE_MODEL_DIR``, ...) before starting the workers. Nothing is built at import time.
"""

from __future__ import annotations

from fastapi import FastAPI

from bot.settings import Settings
from console.app import create_app


def create_app_from_env() -> FastAPI:
    """The whole web app for the settings in the environment (``CONCIERGE_*``)."""
    return create_app(Settings())
