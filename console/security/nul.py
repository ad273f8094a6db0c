"""NUL characters are refused at the console's edge: PostgreSQL text cannot hold them, so a
``\\x00`` in a search term, an id in the path or a JSON string would otherwise reach the
database and fail there (a 500). No real text a person types contains one.

:func:`nul_problem` looks at the request's path and query string and, for JSON bodies up to
:data:`MAX_INSPECTED` bytes, at the body (an unescaped ``\\u0000``); it returns what to
tell the caller, or None, and a ``receive`` that replays the body it read.
"""

from __future__ import annotations

import re

from starlette.types import Message, Receive, Scope

MAX_INSPECTED = 1024 * 1024  # console JSON bodies are small; larger ones are limited elsewhere
# a JSON \u0000 escape that is not itself escaped (an even number of backslashes before it)
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
QUERY_NUL = re.compile(rb"%00|\x00")
MESSAGE = "Text in the request may not contain NUL characters."


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _inspectable(scope: Scope) -> bool:
    """A JSON body of a known, small length."""
    if "json" not in _header(scope, b"content-type").lower():
        return False
    length = _header(scope, b"content-length")
    return length.isdigit() and int(length) <= MAX_INSPECTED


async def nul_problem(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """``(message, receive)``: a message when the request carries a NUL, and the receive to use."""
    if "\x00" in scope.get("path", "") or QUERY_NUL.search(scope.get("query_string", b"")):
        return MESSAGE, receive
    if not _inspectable(scope):
        return None, receive
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return (MESSAGE if JSON_NUL.search(body) else None), replay
