"""Bounds shared by the API's parameters and bodies, so bad input is a 422, never a 500.

Integers reach the database: SQLite stores at most 64-bit integers, PostgreSQL's ``INTEGER``
columns 32-bit ones (row ids, offsets, versions, and events' ``seq``), so a number past
those is refused at the edge (:data:`INT32`).

A field whose column is ``NOT NULL`` may be left out of a change but never sent as
``null``: :func:`not_null` declares such a field (its schema says ``string``, not
``string | null``, and pydantic refuses ``null`` with 422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import Field

INT32 = 2**31 - 1  # PostgreSQL INTEGER: row ids, offsets, versions, event sequence numbers

RowId = Annotated[int, Path(ge=1, le=INT32, description="a row id")]
Offset = Annotated[int, Query(ge=0, le=INT32, description="how many to skip")]
Seq = Annotated[int, Path(ge=0, le=INT32, description="an event's sequence number")]


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def not_null(**constraints: Any) -> Any:
    """A field that may be left out (then it does not change) but is never ``null``.

    Declare it with the plain type, ``display_name: str = not_null(max_length=100)``, and
    read the body with ``model_dump(exclude_unset=True)``: a field left out is absent
    there, one sent as ``null`` was refused before the route ran.
    """
    return Field(default=None, json_schema_extra=_without_default, **constraints)
