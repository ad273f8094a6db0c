"""Runtime settings (environment variables prefixed ``CONCIERGE_``).

Built in ``main()``/``create_app()``, never at import time, so tests build their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the project, the model and the stores are."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_", extra="ignore")

    project_dir: Path = Path(".")
    model_dir: Path | None = Field(default=None, description="trained model; default <project>/models")
    state_dir: Path | None = Field(
        default=None, description="SQLite files etc.; default <project>/.concierge"
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in state_dir")
    redis_url: str | None = None
    action_endpoint: str | None = Field(
        default=None, description="overrides endpoints.yml action_endpoint.url"
    )
    demo: bool = Field(default=False, description="demo mode: demo console accounts with a shared password")
    widget_secret: SecretStr | None = Field(
        default=None,
        description="shared secret the website signs its logged-in customer's e-mail or phone with "
        "(the widget's data-client-token; bot/channels/widget_identity.py); unset = anonymous widget",
    )
    rest_token: SecretStr | None = Field(
        default=None,
        description="bearer token REST callers must send (Authorization: Bearer ...); outside demo "
        "mode the REST channel refuses every request while none is set (bot/channels/rest.py)",
    )
    # bounded input and rate limits at the public edge (docs/security.md, "Limits", "Rate limits")
    max_message_chars: int = Field(
        default=4000, ge=100, description="longest client text; longer ones are cut, the client told"
    )
    max_request_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body")
    max_chat_request_bytes: int = Field(default=65_536, ge=1024, description="largest REST chat body")
    chat_per_ip_per_minute: int = Field(default=60, ge=0, description="REST/widget hits per address; 0 off")
    chat_per_sender_per_minute: int = Field(default=20, ge=0, description="messages per sender; 0 off")
    login_per_ip_per_minute: int = Field(default=30, ge=0, description="sign-in attempts per address; 0 off")
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
        "is believed; default none (the peer address is the client)",
    )
    webhook_max_age_hours: float = Field(
        default=24.0, gt=0, description="provider-dated messages older than this are refused"
    )
    host: str = "127.0.0.1"
    port: int = 5005

    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.project_dir / "models"

    def resolved_state_dir(self) -> Path:
        return self.state_dir or self.project_dir / ".concierge"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = (self.resolved_state_dir() / "concierge.db").resolve()
        return f"sqlite+aiosqlite:///{path}"
