"""No personal data in the logs: every log record is masked as it is made.

:func:`install` wraps the process's log-record factory (so it covers every logger and
handler, pytest's capture included, whatever configured them): uvicorn's access lines
lose their query string (console searches carry names and phones) and path segments
that look like phones, e-mails or conversation ids; every other message, and the text
of an attached traceback, has e-mail addresses and phone numbers masked
(:mod:`bot.redact`). Code should still not log personal data (it logs
``conversation_ref(...)``); this is the net under the mistakes.

Called from ``create_app()`` and the CLI's ``main()``, never at import time; idempotent.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from bot.redact import mask_text, masked_path

ACCESS_LOGGER = "uvicorn.access"
_installed: dict[str, Any] = {}


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place (and return it)."""
    args = record.args
    if record.name == ACCESS_LOGGER and isinstance(args, tuple) and len(args) == 5:
        # uvicorn: (client address, method, path with query, HTTP version, status)
        record.args = (args[0], args[1], masked_path(str(args[2])), args[3], args[4])
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let the handler report it as usual
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = mask_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    return record


def install() -> None:
    """Mask every log record made from now on in this process (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    _installed["previous"] = previous
    _installed["factory"] = factory
    logging.setLogRecordFactory(factory)


def uninstall() -> None:
    """Undo :func:`install` (tests)."""
    if _installed and logging.getLogRecordFactory() is _installed["factory"]:
        logging.setLogRecordFactory(_installed["previous"])
    _installed.clear()
