"""What can go wrong with a workspace request, each with the HTTP status the routes answer with."""

from __future__ import annotations

from bot.errors import ConciergeError


class WorkspaceError(ConciergeError):
    """A workspace request that cannot be done; ``status`` and ``code`` are the HTTP answer,
    ``detail`` what a client program needs besides the message (None for most)."""

    status = 400
    code = "bad_request"

    @property
    def detail(self) -> dict[str, str | None] | None:
        """Machine-readable facts for the error body's ``detail``."""
        return None


class ConversationNotFound(WorkspaceError):
    """No conversation with that id."""

    status = 404
    code = "not_found"


class NotYours(WorkspaceError):
    """The conversation is held by someone else, or the role may not do this to it."""

    status = 403
    code = "forbidden"


class WrongState(WorkspaceError):
    """The conversation is not in a state where this makes sense (e.g. replying before claiming)."""

    status = 409
    code = "conflict"


class NotAvailable(WorkspaceError):
    """A part this project does not have (no handoff data, no knowledge base)."""

    status = 503
    code = "not_available"


class NoAgentProfile(NotAvailable):
    """The user is not linked to an agent on the roster, so has no status to set: the
    caller's own account is the problem (409), not the server (never a 503)."""

    status = 409
    code = "no_agent_profile"


class AlreadyHeld(WrongState):
    """The conversation is not waiting in the queue: another agent holds it (perhaps having
    claimed it a moment earlier, on this server or another) or it moved on. Names who."""

    def __init__(self, status: str, holder: str | None, holder_name: str | None) -> None:
        held = f", held by {holder_name}" if holder_name else ""
        super().__init__(f"this conversation is not waiting in the queue (it is {status}{held})")
        self.current_status = status
        self.holder = holder
        self.holder_name = holder_name

    @property
    def detail(self) -> dict[str, str | None]:
        """``status`` now, and who holds it (``holder`` id and ``holder_name``; None when nobody does)."""
        return {"status": self.current_status, "holder": self.holder, "holder_name": self.holder_name}


class AgentNotAvailable(WrongState):
    """A transfer to an agent who is offline, away or has no free slot, without an override."""

    code = "agent_unavailable"

    def __init__(self, agent_id: str, why: str) -> None:
        super().__init__(
            f"{agent_id} is {why}: transfer to an online agent with a free slot, or send override: true"
        )
        self.agent_id = agent_id
        self.why = why

    @property
    def detail(self) -> dict[str, str | None]:
        """The agent and why they cannot take it now."""
        return {"agent_id": self.agent_id, "why": self.why}
