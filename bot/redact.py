"""Personal data out of log lines: phone numbers, e-mail addresses and ids that carry them.

Conversation ids are ``<channel>:<sender>``, and on WhatsApp or e-mail the sender *is* a
phone number or an address, so a log line naming a conversation names a person. Code that
logs a conversation writes :func:`conversation_ref` (the channel and a short hash: lines
about one conversation still correlate); :func:`mask_text` is the net under everything
else (``privacy.logs`` applies it to every record), and :func:`masked_path` keeps request
paths in access logs free of ids and drops their query strings (search terms).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

MASK = "***"
# 9-15 digits, optionally after "+", separated by single spaces, dashes or parentheses (phone
# notations); dates (8 digits), times and IP addresses (dots) stay readable
_PHONE = re.compile(r"(?<![\w.+])\+?\(?\d(?:[\s\-()]?\d){8,14}(?![\w.])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONEISH_SEGMENT = re.compile(r"^[+\d\s\-().]+$")


def conversation_ref(conversation_id: str) -> str:
    """``whatsapp:+48601234567`` -> ``whatsapp:#3f2a9c41d0``: loggable, stable, not the phone."""
    channel, sep, sender = conversation_id.partition(":")
    if not sep:
        channel, sender = "", conversation_id
    digest = hashlib.sha256(sender.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{channel}:#{digest}"


def mask_text(text: str) -> str:
    """``text`` with e-mail addresses and phone-like numbers replaced by ``***``."""
    if "@" in text:
        text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(MASK, text)


def _sensitive_segment(segment: str) -> bool:
    value = unquote(segment)
    if "@" in value or ":" in value:
        return True
    return bool(_PHONEISH_SEGMENT.match(value)) and sum(ch.isdigit() for ch in value) >= 7


def masked_path(path: str) -> str:
    """A request path for the access log: no query string, and every segment that looks like
    a phone, an e-mail or a conversation id replaced by ``***``."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return "/".join(MASK if _sensitive_segment(s) else s for s in bare.split("/"))
