"""``@olena`` in a private note: who is meant, and the live notice the mentioned agent gets.

A note's mentions are resolved when it is written (:func:`mentioned_agents`) and stored on
the ``AgentNoteAdded`` event (``metadata.mentions``), so every console process's live hub,
which watches the shared event log, can tell the mentioned agent's open workspace at once.
A handle matches an agent's id (``@olena.shevchenko``), the part of it before the dot
(``@olena``) or their first name without diacritics (``@piotr`` for Piotr); unknown handles
and e-mail addresses are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel

from handoff.agents import AgentProfile
from handoff.triggers import fold

MENTIONS_KEY = "mentions"
_HANDLE = re.compile(r"(?<![\w@.])@([\w][\w.\-]{0,63})", re.UNICODE)
MAX_MENTIONS = 10


class Mention(BaseModel):
    """What the mentioned agent's workspace is told (the note's text stays in the conversation)."""

    conversation_id: str
    seq: int
    author: str


def mentioned_agents(text: str, agents: Sequence[AgentProfile]) -> list[str]:
    """The roster ids ``text`` mentions, in order of first mention, at most :data:`MAX_MENTIONS`."""
    names: dict[str, str] = {}
    for agent in agents:
        for key in (agent.id, agent.id.split(".")[0], agent.first_name):
            names.setdefault(fold(key), agent.id)
    found: list[str] = []
    for handle in _HANDLE.findall(text):
        agent_id = names.get(fold(handle.rstrip(".-")))
        if agent_id is not None and agent_id not in found:
            found.append(agent_id)
    return found[:MAX_MENTIONS]
