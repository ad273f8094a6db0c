"""rasa_sdk's type aliases (``rasa_sdk.types``): the domain and tracker as plain dicts."""

from __future__ import annotations

from typing import Any

DomainDict = dict[str, Any]
TrackerState = dict[str, Any]
