"""Rasa ``endpoints.yml`` -> :class:`Endpoints`, with ``${ENV_VAR}`` interpolation as Rasa does.

Rasa expands environment variables in every string value that contains ``${...}``
(rasa/shared/utils/io.py ``replace_environment_variables``) and refuses a value whose
variable is not set; we do the same, with the file and line in the error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import FormatError
from bot.loaders.yaml_io import Source, line_of, plain

_ENV_VAR = re.compile(r"\$\{([^}]+)\}")
ENDPOINT_KEYS = ("action_endpoint", "tracker_store", "lock_store", "event_broker", "nlg", "models")


class EndpointConfig(BaseModel):
    """One endpoint: a URL and/or a ``type`` plus whatever options its backend takes."""

    model_config = ConfigDict(extra="allow")
    url: str | None = None
    type: str | None = None
    token: str | None = None
    token_name: str = "token"
    headers: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    basic_auth: dict[str, str] | None = None
    cafile: str | None = None
    actions_module: str | None = None  # Rasa 3.x: run actions in-process from this module
    wait_time_between_pulls: float | None = None

    def option(self, key: str, default: Any = None) -> Any:
        """An extra option (``db``, ``username``, ``port``, ...) as written in the file."""
        return (self.model_extra or {}).get(key, default)


class Endpoints(BaseModel):
    """What ``endpoints.yml`` configures; a missing file means everything is None (defaults)."""

    action_endpoint: EndpointConfig | None = None
    tracker_store: EndpointConfig | None = None
    lock_store: EndpointConfig | None = None
    event_broker: EndpointConfig | None = None
    nlg: EndpointConfig | None = None
    models: EndpointConfig | None = None
    other: dict[str, EndpointConfig] = Field(
        default_factory=dict, description="endpoints Rasa core does not know"
    )


def load_endpoints(path: Path, environ: Mapping[str, str] | None = None) -> Endpoints:
    """Read ``endpoints.yml``; a missing file gives empty :class:`Endpoints`."""
    path = Path(path)
    if not path.is_file():
        return Endpoints()
    src = Source.read(path)
    top = src.top()
    env = os.environ if environ is None else environ
    fields: dict[str, Any] = {}
    other: dict[str, EndpointConfig] = {}
    for key in top:
        if top[key] is None:
            continue
        block = src.mapping(top, key, f"endpoint {key!r}")
        values = {str(k): _expand(src, block, k, env) for k in block}
        try:
            endpoint = EndpointConfig(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            bad = str(first["loc"][0]) if first["loc"] else None
            src.fail(
                f"endpoint {key!r}: {first['msg']}" + (f" ({bad})" if bad else ""),
                block,
                bad if bad in block else None,
            )
        if key in ENDPOINT_KEYS:
            fields[str(key)] = endpoint
        else:
            other[str(key)] = endpoint
    return Endpoints(**fields, other=other)


def _expand(src: Source, node: Any, key: Any, env: Mapping[str, str]) -> Any:
    """Plain value of ``node[key]`` with ``${VAR}`` replaced in every string, recursively."""
    value = node[key]
    if isinstance(value, Mapping):
        return {str(k): _expand(src, value, k, env) for k in value}
    if isinstance(value, list):
        return [_expand(src, value, i, env) for i in range(len(value))]
    if not isinstance(value, str):
        return plain(value)
    missing = [name for name in _ENV_VAR.findall(value) if name not in env]
    if missing:
        raise FormatError(
            str(src.path),
            f"{key!r} uses environment variable(s) that are not set: {', '.join(missing)}",
            line_of(node, key),
        )
    return _ENV_VAR.sub(lambda m: env[m.group(1)], str(value))
