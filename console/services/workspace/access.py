"""Who may do what to a conversation in the workspace, given its handoff status and holder.

Roles come from ``console.deps`` (agents, managers and admins use the workspace); this
module adds the per-conversation rules: an agent acts on conversations they hold or that
wait in the queue; managers and admins may also assign, transfer, resolve and return
conversations other agents hold. Only the holder replies, so a client never hears from
two people at once.
"""

from __future__ import annotations

from console.security.models import ConsoleUser
from handoff.state import HandoffStatus

SUPERVISORS = ("manager", "admin")


def actor_id(user: ConsoleUser) -> str:
    """The id a user acts under in the handoff log: their agent id, else their username."""
    return user.agent_id or user.username


def can_assign(user: ConsoleUser) -> bool:
    """Managers and admins may give conversations to other agents."""
    return user.role in SUPERVISORS


def allowed_actions(status: HandoffStatus, holder: str | None, user: ConsoleUser) -> list[str]:
    """The actions ``user`` may take on a conversation in ``status`` held by ``holder``."""
    mine = holder is not None and holder == actor_id(user)
    boss = can_assign(user)
    allowed: list[str] = []
    if status == HandoffStatus.QUEUED:
        allowed += ["claim", *(["assign"] if boss else []), "return"]
    elif status == HandoffStatus.ASSIGNED and (mine or boss):
        allowed += [*(["reply"] if mine else []), "transfer", "resolve", "return"]
    elif status == HandoffStatus.RESOLVED and (mine or boss):
        allowed.append("return")
    allowed.append("note")
    return allowed
