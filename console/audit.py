"""The console's side of the audit log: every console mutation writes one entry.

Routes call ``await record(request, user, "user.create", "user:anna", {"role": "agent"})``;
the CLI and start-up code pass the app (or the platform) and an actor name such as
``"cli"`` or ``"system"``. The log itself (table, writer, reader) is :mod:`bot.audit`, a
store below the console and privacy both; its names are re-exported here for the
console's callers.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from bot.audit import MAX_TARGET, AuditEntry, AuditFilter, AuditLog
from console.security.models import ConsoleUser

__all__ = ["MAX_TARGET", "AuditEntry", "AuditFilter", "AuditLog", "record"]


async def record(
    request_or_app: Any,
    actor: ConsoleUser | str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write an audit entry through the app's console platform.

    ``request_or_app`` is a request / WebSocket (routes), the FastAPI app, or the
    :class:`~console.security.platform.ConsolePlatform` itself (CLI, start-up).
    """
    from console.security.platform import ConsolePlatform

    if isinstance(request_or_app, ConsolePlatform):
        platform = request_or_app
    else:
        app = request_or_app.app if isinstance(request_or_app, HTTPConnection) else request_or_app
        platform = app.state.console
    await (await platform.ready()).audit.record(actor, action, target, detail)
