"""Channel adapters: each provider's wire format in, the engine's replies out.

``base`` holds the seam (:class:`ChannelAdapter`, :class:`MessageHandler`), ``registry``
the name -> adapter table, and each provider has one module (``rest``, ``widget``).
"""

from bot.channels.base import ChannelAdapter, MessageHandler, TranscriptEntry
from bot.channels.registry import CHANNELS, adapter_class, mount_channels

__all__ = [
    "CHANNELS",
    "ChannelAdapter",
    "MessageHandler",
    "TranscriptEntry",
    "adapter_class",
    "mount_channels",
]
