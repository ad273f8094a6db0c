"""Small helpers the erasers share: IN-lists in chunks, rows as JSON-ready dicts, cut-offs."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

#: ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
CHUNK = 500


def chunked(values: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    """``values`` (sorted, so runs are repeatable) in lists of at most ``size``."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def plain(value: Any) -> Any:
    """A stored value as JSON: datetimes and dates in ISO 8601, bytes in base64."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def row_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A database row (``row._mapping``) as a JSON-ready dict."""
    return {str(key): plain(value) for key, value in row.items()}


def cutoff(now: datetime, days: int | None) -> datetime | None:
    """The moment before which data of a ``days`` TTL has expired (None: kept forever)."""
    return None if days is None else now - timedelta(days=days)
