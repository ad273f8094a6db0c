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
