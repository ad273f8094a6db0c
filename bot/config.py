"""The bot's ``config.yml`` as a data model: language, NLU pipeline and policies.

Component names stay Rasa's (``DIETClassifier``, ``RulePolicy``, ...): each consumer
(:mod:`bot.nlu`, :mod:`bot.policies`) maps them onto its own implementation, and
:mod:`bot.loaders.config` warns about names nobody implements.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ComponentConfig(BaseModel):
    """One pipeline component or policy: its Rasa name and its options."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


class BotConfig(BaseModel):
    """What ``config.yml`` says; an empty pipeline/policies list means our defaults."""

    language: str = "en"
    languages: list[str] = Field(default_factory=list, description="extra languages understood")
    pipeline: list[ComponentConfig] = Field(default_factory=list)
    policies: list[ComponentConfig] = Field(default_factory=list)
    assistant_id: str | None = None
    recipe: str | None = None

    def component(self, name: str) -> ComponentConfig | None:
        """The first pipeline component with this Rasa name."""
        return next((c for c in self.pipeline if c.name == name), None)

    def policy(self, name: str) -> ComponentConfig | None:
        return next((p for p in self.policies if p.name == name), None)
