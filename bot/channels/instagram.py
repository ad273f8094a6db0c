"""Instagram messaging: Meta's signed ``instagram`` webhooks in, the Send API out.

Mounted at ``/webhooks/instagram/webhook`` (GET: the subscription handshake; POST: events).
The same Send API as Messenger (``POST /{account-or-page-id}/messages``): buttons become
quick replies; reactions and ``messaging_seen`` read receipts are recorded; echoes (which
Instagram delivers in the ``messages`` field with ``is_echo``) are ignored; Instagram has no
message-edit webhook. An agent's reply after 24 hours goes with the ``HUMAN_AGENT`` tag (up
to 7 days). With Instagram Login set ``graph_url: https://graph.instagram.com`` and the
account's token; with Facebook Login keep the default and use the connected Page's token.
"""

from __future__ import annotations

from bot.channels.meta_messaging import MetaMessagingChannel

MAX_TEXT = 1000  # Instagram's limit, in UTF-8 bytes


class InstagramChannel(MetaMessagingChannel):
    """An Instagram professional account's direct messages (credentials.yml ``instagram:``)."""

    name = "instagram"
    object_kind = "instagram"
    max_text = MAX_TEXT
    text_in_bytes = True
