"""Console security settings (``CONCIERGE_CONSOLE_*`` environment variables).

Built in ``create_app()``, never at import time. The defaults suit a studio team working
shifts: a session dies after two idle hours and, however busy, after twelve.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """How long sessions live and when sign-in is throttled."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_CONSOLE_", extra="ignore")

    session_idle_minutes: int = Field(default=120, ge=1, description="sign out after this long unused")
    session_absolute_hours: int = Field(default=12, ge=1, description="sign out this long after sign-in")
    throttle_window_minutes: int = Field(default=15, ge=1)
    throttle_max_per_username: int = Field(default=5, ge=1, description="failures per username per window")
    throttle_max_per_ip: int = Field(
        default=20, ge=1, description="failures per IP per window (a studio shares one address)"
    )
