"""The email channel (``email``): IMAP polling and an inbound-parse webhook in, SMTP out.

Modules, one seam each: ``config`` (the ``credentials.yml`` section), ``parse`` (MIME to
what the client wrote), ``quotes`` (quoted history and signatures), ``threads`` (which
conversation, what a reply refers to), ``compose`` (the outgoing mail, buttons as numbered
options), ``smtp`` and ``imap`` (the wire), ``files`` (attachments), ``channel`` (the
adapter tying them to the shared webhook flow and the outbox).
"""

from bot.channels.email.channel import EmailChannel
from bot.channels.email.config import EmailConfig

__all__ = ["EmailChannel", "EmailConfig"]
