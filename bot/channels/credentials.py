"""``credentials.yml``: which channels a project serves, with their secrets (Rasa's file format).

One top-level key per channel, its options beneath (an empty value is fine for channels
without options, like Rasa's ``rest:``)::

    rest:
    whatsapp:
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      twilio_number: "whatsapp:+14155238886"
      public_url: ${CONCIERGE_PUBLIC_URL:-https://bot.example.com}
    outbox:                  # not a channel: the outbox worker's settings
      max_attempts: 8

``${NAME}`` is replaced by the environment variable ``NAME``; ``${NAME:-default}`` uses the
default when ``NAME`` is unset or empty. A channel whose section names an unset variable
without default is **disabled**, not an error: the file can list every channel, and a
deployment turns one on by providing its secrets. ``enabled: false`` disables a channel
explicitly. Keys that are not our channels (Rasa's ``socketio``, custom connector module
paths) are reported and skipped, so a Rasa project's file loads unchanged.

Each adapter validates its own section with its pydantic ``config_model``
(``ChannelAdapter.from_credentials``), so a typo names the file, channel and field.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.channels.base import describe_validation_error
from bot.channels.outbox import OutboxSettings
from bot.errors import ConfigError, FormatError
from bot.loaders.yaml_io import read_yaml

log = logging.getLogger(__name__)

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
RESERVED = frozenset({"outbox"})


class ChannelCredentials(BaseModel):
    """One channel's section after substitution, and why it is off when it is."""

    name: str
    options: dict[str, Any]
    disabled_reason: str | None = None

    @property
    def enabled(self) -> bool:
        """True when the channel should be mounted."""
        return self.disabled_reason is None


class Credentials(BaseModel):
    """The whole file: channel sections in file order, and the outbox settings."""

    channels: dict[str, ChannelCredentials] = {}
    outbox: OutboxSettings = OutboxSettings()
    ignored: list[str] = []

    def enabled(self) -> list[str]:
        """Names of the channels to mount, in file order."""
        return [name for name, channel in self.channels.items() if channel.enabled]

    def disabled(self) -> dict[str, str]:
        """Channels listed but off, with the reason (for ``/health`` and the start-up log)."""
        return {
            name: channel.disabled_reason
            for name, channel in self.channels.items()
            if channel.disabled_reason is not None
        }

    def section(self, name: str) -> dict[str, Any] | None:
        """A channel's options, or None when the file does not list it."""
        channel = self.channels.get(name)
        return channel.options if channel is not None else None


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def substitute(value: Any, environ: Mapping[str, str], missing: list[str]) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string of ``value``.

    Unset variables without default are appended to ``missing`` and become ``""``.
    """
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = environ.get(name)
            if found:
                return found
            if default is not None:
                return default
            missing.append(name)
            return ""

        return ENV_REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {k: substitute(v, environ, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, environ, missing) for v in value]
    return value


def parse_credentials(
    data: Any,
    known: Iterable[str],
    *,
    environ: Mapping[str, str] | None = None,
    path: str = "credentials.yml",
) -> Credentials:
    """Build :class:`Credentials` from parsed YAML; ``known`` are the registry's channel names."""
    environ = os.environ if environ is None else environ
    known = set(known)
    data = _plain(data)
    if data is None:
        return Credentials()
    if not isinstance(data, dict):
        raise FormatError(path, "expected a mapping of channel names to their options")
    channels: dict[str, ChannelCredentials] = {}
    ignored: list[str] = []
    outbox = OutboxSettings()
    for name, raw in data.items():
        if name == "outbox":
            try:
                outbox = OutboxSettings.model_validate(substitute(raw or {}, environ, []))
            except ValidationError as exc:
                raise ConfigError(f"{path}, section outbox: {describe_validation_error(exc)}") from None
            continue
        if name not in known:
            ignored.append(name)
            log.warning(
                "%s: %r is not a channel we serve; skipped (known: %s)", path, name, ", ".join(sorted(known))
            )
            continue
        if raw is not None and not isinstance(raw, dict):
            raise FormatError(
                path, f"section {name}: expected options as a mapping, got {type(raw).__name__}"
            )
        missing: list[str] = []
        options = substitute(raw or {}, environ, missing)
        reason = None
        if options.get("enabled") is False:
            reason = "disabled in credentials.yml"
        elif missing:
            reason = "set " + ", ".join(sorted(set(missing))) + " to enable"
        channels[name] = ChannelCredentials(name=name, options=options, disabled_reason=reason)
    return Credentials(channels=channels, outbox=outbox, ignored=ignored)


def load_credentials(
    path: Path, known: Iterable[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Read ``path``; an absent file means no extra channels. Disabled channels are logged."""
    if known is None:
        from bot.channels.registry import CHANNELS

        known = CHANNELS
    if not path.is_file():
        return Credentials()
    credentials = parse_credentials(read_yaml(path), known, environ=environ, path=str(path))
    for name, reason in credentials.disabled().items():
        log.info("channel %s is off: %s", name, reason)
    return credentials
