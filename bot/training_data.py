"""Training data read from ``data/*.yml``: NLU examples, rules and stories.

Only the data model lives here; :mod:`bot.loaders` reads Rasa's YAML into it, and
:mod:`bot.policies.generator` expands stories into linear event lists.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class EntitySpan(BaseModel):
    """An annotated entity in an example: ``text[start:end]`` means ``value``."""

    start: int
    end: int
    entity: str
    value: Any
    role: str | None = None
    group: str | None = None


class NLUExample(BaseModel):
    """One training utterance. A retrieval intent ``faq/hours`` is ``intent='faq'``,
    ``response_key='hours'``."""

    text: str
    intent: str
    entities: list[EntitySpan] = Field(default_factory=list)
    response_key: str | None = None
    language: str | None = None

    @property
    def full_intent(self) -> str:
        return f"{self.intent}/{self.response_key}" if self.response_key else self.intent


class RegexFeature(BaseModel):
    name: str
    pattern: str


class NLUData(BaseModel):
    """All NLU training data of a project."""

    examples: list[NLUExample] = Field(default_factory=list)
    synonyms: dict[str, str] = Field(default_factory=dict)  # lower-cased variant -> canonical
    regexes: list[RegexFeature] = Field(default_factory=list)
    lookups: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


class UserStep(BaseModel):
    """A user turn in a story: an intent (or ``user`` text) with entities."""

    kind: Literal["user"] = "user"
    intent: str | None = None
    text: str | None = None
    entities: list[EntitySpan | dict[str, Any]] = Field(default_factory=list)


class ActionStep(BaseModel):
    kind: Literal["action"] = "action"
    name: str | None = None
    bot_text: str | None = None  # e2e ``bot:`` step


class SlotStep(BaseModel):
    """``slot_was_set`` entries; a value of ``...`` (Ellipsis) is stored as ``any_value=True``."""

    kind: Literal["slot"] = "slot"
    name: str
    value: Any = None
    any_value: bool = False


class ActiveLoopStep(BaseModel):
    kind: Literal["active_loop"] = "active_loop"
    name: str | None = None


class CheckpointStep(BaseModel):
    kind: Literal["checkpoint"] = "checkpoint"
    name: str
    slot_was_set: list[SlotStep] = Field(default_factory=list)


class OrStep(BaseModel):
    """Alternatives: each is a user step or a slot step."""

    kind: Literal["or"] = "or"
    alternatives: list[UserStep | SlotStep]


Step = UserStep | ActionStep | SlotStep | ActiveLoopStep | CheckpointStep | OrStep


class Story(BaseModel):
    """A story, a rule or a test story; ``source`` is ``file:line`` for error messages."""

    name: str
    steps: list[Step] = Field(default_factory=list)
    is_rule: bool = False
    condition: list[Step] = Field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True
    source: str = ""


class StoryData(BaseModel):
    stories: list[Story] = Field(default_factory=list)
    rules: list[Story] = Field(default_factory=list)
