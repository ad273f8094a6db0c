"""What can go wrong with a workspace request, each with the HTTP status the routes answer with."""

from __future__ import annotations

from bot.errors import ConciergeError


class WorkspaceError(ConciergeError):
    """A workspace request that cannot be done; ``status`` and ``code`` are the HTTP answer."""

    status = 400
    code = "bad_request"


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
