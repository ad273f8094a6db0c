"""The bot's domain (``domain.yml``): intents, entities, slots, responses, actions, forms.

Only the data model lives here; :mod:`bot.loaders.domain` reads Rasa's YAML into it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Rasa's default actions, always part of a domain (rasa/shared/core/constants.py).
ACTION_LISTEN = "action_listen"
ACTION_RESTART = "action_restart"
ACTION_SESSION_START = "action_session_start"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
ACTION_REVERT_FALLBACK_EVENTS = "action_revert_fallback_events"
ACTION_DEFAULT_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_DEFAULT_ASK_REPHRASE = "action_default_ask_rephrase"
ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
ACTION_UNLIKELY_INTENT = "action_unlikely_intent"
ACTION_BACK = "action_back"
ACTION_EXTRACT_SLOTS = "action_extract_slots"
DEFAULT_ACTIONS = [
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SESSION_START,
    ACTION_DEFAULT_FALLBACK,
    ACTION_DEACTIVATE_LOOP,
    ACTION_REVERT_FALLBACK_EVENTS,
    ACTION_DEFAULT_ASK_AFFIRMATION,
    ACTION_DEFAULT_ASK_REPHRASE,
    ACTION_TWO_STAGE_FALLBACK,
    ACTION_UNLIKELY_INTENT,
    ACTION_BACK,
    ACTION_EXTRACT_SLOTS,
]
DEFAULT_INTENTS = ["restart", "back", "out_of_scope", "session_start", "nlu_fallback"]
REQUESTED_SLOT = "requested_slot"
SESSION_STARTED_METADATA_SLOT = "session_started_metadata"


class IntentDef(BaseModel):
    """One intent; ``use_entities``/``ignore_entities`` as in Rasa (None = all)."""

    name: str
    use_entities: list[str] | None = None
    ignore_entities: list[str] = Field(default_factory=list)

    def entity_used(self, entity: str) -> bool:
        if entity in self.ignore_entities:
            return False
        return self.use_entities is None or entity in self.use_entities


class EntityDef(BaseModel):
    name: str
    roles: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    influence_conversation: bool = True


class MappingCondition(BaseModel):
    active_loop: str | None = None
    requested_slot: str | None = None


class SlotMapping(BaseModel):
    """How a slot is filled (Rasa 3 ``mappings``)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["from_entity", "from_text", "from_intent", "from_trigger_intent", "custom"]
    entity: str | None = None
    role: str | None = None
    group: str | None = None
    intent: list[str] | None = None
    not_intent: list[str] | None = None
    value: Any = None
    action: str | None = None
    conditions: list[MappingCondition] = Field(default_factory=list)


class SlotDef(BaseModel):
    """A slot: its type decides how it is featurised for the policies."""

    name: str
    type: Literal["text", "bool", "categorical", "float", "list", "any"] | str = "any"
    influence_conversation: bool = True
    initial_value: Any = None
    values: list[Any] = Field(default_factory=list)
    min_value: float = 0.0
    max_value: float = 1.0
    mappings: list[SlotMapping] = Field(default_factory=list)


class ResponseButton(BaseModel):
    title: str
    payload: str


class ResponseCondition(BaseModel):
    type: Literal["slot"] = "slot"
    name: str
    value: Any = None


class ResponseVariation(BaseModel):
    """One variation of a response; ``condition`` picks it by slot values, ``channel`` by channel."""

    model_config = ConfigDict(extra="allow")
    text: str | None = None
    buttons: list[ResponseButton] = Field(default_factory=list)
    image: str | None = None
    custom: dict[str, Any] | None = None
    attachment: Any = None
    condition: list[ResponseCondition] = Field(default_factory=list)
    channel: str | None = None
    button_type: str | None = None


class FormDef(BaseModel):
    name: str
    required_slots: list[str] = Field(default_factory=list)
    ignored_intents: list[str] = Field(default_factory=list)


class SessionConfig(BaseModel):
    """Minutes without activity after which a new session starts (0 = never)."""

    session_expiration_time: float = 60.0
    carry_over_slots_to_new_session: bool = True


class Domain(BaseModel):
    """Everything the bot can perceive, remember and do."""

    intents: list[IntentDef] = Field(default_factory=list)
    entities: list[EntityDef] = Field(default_factory=list)
    slots: dict[str, SlotDef] = Field(default_factory=dict)
    responses: dict[str, list[ResponseVariation]] = Field(default_factory=dict)
    actions: list[str] = Field(default_factory=list)
    forms: dict[str, FormDef] = Field(default_factory=dict)
    session_config: SessionConfig = Field(default_factory=SessionConfig)

    @property
    def intent_names(self) -> list[str]:
        names = [i.name for i in self.intents]
        return names + [d for d in DEFAULT_INTENTS if d not in names]

    @property
    def entity_names(self) -> list[str]:
        return [e.name for e in self.entities]

    @property
    def retrieval_intents(self) -> list[str]:
        """Intents answered by a response selector (``utter_<intent>/<key>`` responses)."""
        found = {name.split("/", 1)[0][len("utter_") :] for name in self.responses if "/" in name}
        return sorted(found)

    @property
    def action_names(self) -> list[str]:
        """Every action the policies may predict, defaults first, in a stable order."""
        seen: dict[str, None] = {a: None for a in DEFAULT_ACTIONS}
        for name in self.responses:
            if "/" not in name:
                seen.setdefault(name, None)
        for name in self.actions:
            seen.setdefault(name, None)
        for name in self.forms:
            seen.setdefault(name, None)
        for intent in self.retrieval_intents:
            seen.setdefault(f"utter_{intent}", None)
        return list(seen)

    def intent(self, name: str) -> IntentDef | None:
        for i in self.intents:
            if i.name == name:
                return i
        return None
