"""The small error hierarchy every layer translates its failures into.

Adapters and loaders raise these; the engine turns them into a safe reply or a
handoff, and the web layer into clear HTTP errors. A client never sees a traceback.
"""

from __future__ import annotations


class ConciergeError(Exception):
    """Base of every error Concierge raises on purpose."""


class FormatError(ConciergeError):
    """A project file (YAML, Markdown, CSV) is malformed: says which file, line and what."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(ConciergeError):
    """Settings or config.yml name something that cannot work."""


class ChannelError(ConciergeError):
    """A channel provider could not be reached or answered with an error.

    ``retryable`` says whether sending the same message again may succeed (a timeout or
    a 5xx: yes; a rejected recipient or a malformed request: no). The outbox retries
    only retryable failures.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class RateLimited(ChannelError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutsideWindow(ChannelError):
    """The provider's customer-service window is closed (WhatsApp/Meta 24 hours) and no
    approved template fits: the message was not sent and the agent must be told."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class Unauthorized(ConciergeError):
    """A request's signature, token or session is missing or wrong."""


class BadPayload(ConciergeError):
    """A request's body is not what the provider or our API documents."""


class ActionRejected(ConciergeError):
    """An action refused to run (Rasa's ActionExecutionRejection, e.g. a form that cannot fill)."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        super().__init__(message or f"action {action_name!r} rejected execution")
        self.action_name = action_name


class ActionNotFound(ConciergeError):
    """No in-process action and no action server knows this action."""


class ConcurrencyConflict(ConciergeError):
    """A conversation moved on since it was read: an append expected ``expected_seq`` as the
    conversation's last event, but another writer (task or process) got there first.

    Nothing was written. The caller re-reads the conversation and decides again (a handoff
    move re-checks the transition table against the new state).
    """

    def __init__(self, conversation_id: str, expected_seq: int, actual_seq: int) -> None:
        super().__init__(
            f"conversation changed since it was read (expected seq {expected_seq}, found {actual_seq})"
        )
        self.conversation_id = conversation_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq
