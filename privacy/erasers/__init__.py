"""The personal-data map: one eraser per store that holds personal data.

Order matters: files are found through the events that name them, so the attachment
eraser runs before the conversation eraser deletes those events; read models keyed by
conversation or client go before the rows they may reference; profiles go last.
See :func:`default_erasers` and docs/security.md ("Personal data map"). The demo actions'
bookings (:mod:`privacy.erasers.bookings`) live in a database of their own: they are one of
the service's ``other_stores`` (:meth:`privacy.service.PrivacyService.for_settings`), a part
of each erase request done after the main database's (privacy/erasures.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from privacy.base import Eraser
from privacy.erasers.addresses import AddressEraser
from privacy.erasers.attachments import AttachmentEraser
from privacy.erasers.audit import AuditEraser
from privacy.erasers.clients import ClientEraser
from privacy.erasers.conversations import ConversationEraser
from privacy.erasers.gaps import GapEraser
from privacy.erasers.mentions import MentionEraser
from privacy.erasers.outbox import OutboxEraser
from privacy.erasers.sweep import ReadModelEraser

__all__ = [
    "AddressEraser",
    "AttachmentEraser",
    "AuditEraser",
    "ClientEraser",
    "ConversationEraser",
    "GapEraser",
    "MentionEraser",
    "OutboxEraser",
    "ReadModelEraser",
    "default_erasers",
]


def default_erasers(attachment_dirs: Sequence[Path], extra: Sequence[Eraser] = ()) -> list[Eraser]:
    """Every store of a Concierge database, in the order erase must visit them; ``extra``
    (erasers other packages register, e.g. for their read models) run before the
    conversations and profiles their rows may point at."""
    return [
        AttachmentEraser(attachment_dirs),
        AuditEraser(),
        GapEraser(),
        OutboxEraser(),
        AddressEraser(),
        *extra,
        ReadModelEraser(),
        MentionEraser(),
        ConversationEraser(),
        ClientEraser(),
    ]
