"""Meta's 24-hour customer-service window, shared by the WhatsApp channels (and Messenger, Instagram).

Inside the window (the client's last message is less than ``hours`` old) any message may
go out. Outside it only an approved template may: an agent's late reply or a CSAT request
is rewritten as the template configured for its purpose in ``credentials.yml``, or, when
none fits, refused with :class:`~bot.errors.OutsideWindow` so the console tells the agent.
Nothing is silently dropped.

The window is read from the conversation's event log (the client's stored messages), so
every worker process agrees on it.

Purposes: ``custom={"template": "<purpose>"}`` on an :class:`~bot.models.OutboundMessage`
names one (e.g. ``"csat"``); otherwise an agent's message (``sender="agent"``) uses
``"agent_reply"``. Template parameters are strings with placeholders: ``{text}`` (the
message text), ``{agent_name}`` and any key of ``custom["template_params"]``.
:meth:`ServiceWindow.prepare` does the whole check for a channel; the channel only renders
its provider's template object, which travels in ``custom["wa_template"]`` to ``deliver``.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.channels.base import MessageHandler
from bot.errors import OutsideWindow
from bot.models import OutboundMessage
from bot.redact import conversation_ref

log = logging.getLogger(__name__)

TEMPLATE_KEY = "template"
AGENT_REPLY = "agent_reply"
WA_TEMPLATE = "wa_template"  # custom key of a rendered template (what deliver sends)

T = TypeVar("T")


async def last_client_message_at(handler: MessageHandler | None, conversation_id: str) -> datetime | None:
    """When the client last wrote in this conversation (from the event log), or None."""
    if handler is None:
        return None
    entries = await handler.history(conversation_id)
    stamps = [entry.timestamp for entry in entries if entry.sender == "client"]
    return datetime.fromtimestamp(max(stamps), UTC) if stamps else None


def template_purpose(message: OutboundMessage) -> str | None:
    """Which configured template may stand in for ``message`` outside the window."""
    custom = message.custom or {}
    named = custom.get(TEMPLATE_KEY)
    if isinstance(named, str) and named:
        return named
    return AGENT_REPLY if message.sender == "agent" else None


def placeholders(message: OutboundMessage) -> dict[str, str]:
    """The values a template parameter may use."""
    custom = message.custom or {}
    values = {"text": message.text or "", "agent_name": str(custom.get("agent_name") or "")}
    extra = custom.get("template_params")
    if isinstance(extra, Mapping):
        values.update({str(k): str(v) for k, v in extra.items()})
    return values


def fill(pattern: str, values: Mapping[str, str]) -> str:
    """``pattern`` with ``{name}`` placeholders filled; unknown names are left empty."""
    out = []
    for literal, field, _spec, _conv in string.Formatter().parse(pattern):
        out.append(literal)
        if field is not None:
            out.append(values.get(field, ""))
    return "".join(out)


class ServiceWindow:
    """Decides whether a message may go out as is, and when not, which template purpose applies."""

    def __init__(self, hours: float = 24.0) -> None:
        self.length = timedelta(hours=hours)

    async def is_open(self, handler: MessageHandler | None, conversation_id: str, now: datetime) -> bool:
        """True when the client wrote within the window (unknown history counts as open)."""
        if handler is None:
            log.warning(
                "service window: no handler to read %s's history; assuming open",
                conversation_ref(conversation_id),
            )
            return True
        last = await last_client_message_at(handler, conversation_id)
        return last is not None and now - last < self.length

    async def prepare(
        self,
        handler: MessageHandler | None,
        conversation_id: str,
        message: OutboundMessage,
        now: datetime,
        templates: Mapping[str, T],
        render: Callable[[T, Mapping[str, str]], dict[str, Any]],
    ) -> OutboundMessage:
        """``message`` as it may go out now: as is inside the window; outside, rewritten as the
        template configured for its purpose (``render(template, placeholders)`` in
        ``custom["wa_template"]``), or :class:`OutsideWindow` when none is configured."""
        if await self.is_open(handler, conversation_id, now):
            return message
        purpose = template_purpose(message)
        template = templates.get(purpose) if purpose else None
        if template is None:
            raise self.closed(conversation_id, purpose)
        channel = conversation_id.partition(":")[0]
        log.info("%s: outside the 24-hour window; sending template %r", channel, purpose)
        rendered = render(template, placeholders(message))
        return message.model_copy(update={"custom": {**(message.custom or {}), WA_TEMPLATE: rendered}})

    def closed(self, conversation_id: str, purpose: str | None) -> OutsideWindow:
        """The error for a message that cannot go out: no template fits."""
        hours = self.length.total_seconds() / 3600
        wanted = f"no approved template is configured for {purpose!r}" if purpose else "it is not a template"
        return OutsideWindow(
            f"the client's last message in {conversation_id} is older than {hours:g} hours, so WhatsApp "
            f"only accepts approved templates, and {wanted}; the message was not sent"
        )
