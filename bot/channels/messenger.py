"""Facebook Messenger: Meta's signed ``page`` webhooks in, the Send API out.

Mounted at ``/webhooks/messenger/webhook`` (GET: the subscription handshake; POST: events).
Buttons become quick replies; message edits, reactions, delivery and read receipts are
recorded; echoes of the page's own messages are ignored. An agent's reply after 24 hours
goes with the ``HUMAN_AGENT`` tag (up to 7 days). Everything shared with Instagram is in
:mod:`bot.channels.meta_messaging`; the signature check and Graph client in
:mod:`bot.channels.meta`.
"""

from __future__ import annotations

from bot.channels.meta_messaging import MetaMessagingChannel

MAX_TEXT = 2000  # characters per Send API text message


class MessengerChannel(MetaMessagingChannel):
    """A Facebook Page's Messenger inbox (credentials.yml ``messenger:``)."""

    name = "messenger"
    object_kind = "page"
    max_text = MAX_TEXT
