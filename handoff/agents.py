"""Agents who take over conversations: their skills, languages and capacity.

Profiles come from YAML (``data/agents.yml``); live status and load come from the
console (who is logged in, how many chats each holds) as :class:`AgentState`, so the
router stays a pure function of both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.errors import FormatError

AgentStatus = Literal["online", "away", "offline"]


class AgentProfile(BaseModel):
    """Who an agent is and what they can handle (``skills`` are service categories)."""

    id: str
    name: str
    skills: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    max_chats: int = Field(default=3, ge=1)
    locations: list[str] = Field(default_factory=list)

    @property
    def first_name(self) -> str:
        """The name clients and explanations use ("Anna")."""
        return self.name.split()[0] if self.name else self.id


class AgentState(BaseModel):
    """An agent right now: status and how many conversations they hold."""

    profile: AgentProfile
    status: AgentStatus = "offline"
    active_chats: int = Field(default=0, ge=0)

    @property
    def has_capacity(self) -> bool:
        """Online and below their chat limit."""
        return self.status == "online" and self.active_chats < self.profile.max_chats

    @property
    def load(self) -> str:
        """``"1/3 chats"``."""
        return f"{self.active_chats}/{self.profile.max_chats} chats"


class AgentRoster(BaseModel):
    """The agents file."""

    agents: list[AgentProfile]

    @model_validator(mode="after")
    def _unique_ids(self) -> AgentRoster:
        ids = [a.id for a in self.agents]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate agent id(s): {', '.join(dupes)}")
        return self

    def get(self, agent_id: str) -> AgentProfile | None:
        """The agent with this id, if any."""
        return next((a for a in self.agents if a.id == agent_id), None)


def load_agents(path: Path) -> AgentRoster:
    """Read and validate an agents YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return AgentRoster.model_validate(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(str(path), f"invalid YAML: {exc}", line=mark.line + 1 if mark else None) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise FormatError(str(path), problems) from None
