"""How much of a message the NLU looks at: a fixed window, so one message's cost is bounded.

Channels cap a message's text (``CONCIERGE_MAX_MESSAGE_CHARS``), but the pipeline must
not rely on that: messages stored before a cap existed, the CLI and tests reach it too.
So :class:`~bot.nlu.pipeline.NLUPipeline` understands only a message's first
:data:`MAX_UNDERSTOOD_CHARS` characters (what a client wants is said long before that),
and its classifier sees words of at most :data:`MAX_WORD_CHARS` characters (no real
word is longer; a 150,000-letter "word" featurised whole costs time for nothing).
Entities are found in the window itself, so their offsets stay those of the message.
"""

from __future__ import annotations

import re

MAX_UNDERSTOOD_CHARS = 2000
MAX_WORD_CHARS = 64

_LONG_WORD = re.compile(rf"\w{{{MAX_WORD_CHARS + 1},}}")


def window(text: str) -> str:
    """The part of ``text`` the NLU reads: its first :data:`MAX_UNDERSTOOD_CHARS` characters."""
    return text[:MAX_UNDERSTOOD_CHARS]


def for_classifier(text: str) -> str:
    """The window with every word cut to :data:`MAX_WORD_CHARS` characters (linear time)."""
    return _LONG_WORD.sub(lambda m: m.group()[:MAX_WORD_CHARS], window(text))
