"""Domain ``slots:`` and slot ``mappings`` -> :class:`SlotDef` / :class:`SlotMapping`.

Also the Rasa 2 -> 3 migration that ``rasa data migrate`` performs (rasa/core/migrate.py):
form-level mappings move into the slots with an ``active_loop`` condition, ``auto_fill``
becomes an explicit ``from_entity`` mapping, and slots left without mappings get ``custom``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import MappingCondition, SlotDef, SlotMapping
from bot.loaders.yaml_io import Source, describe, is_scalar, plain

MAPPING_TYPES = ("from_entity", "from_text", "from_intent", "from_trigger_intent", "custom")
SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
# Rasa's slot classes by name, for domains that spell the class path instead of the type.
_SLOT_CLASSES = {
    "TextSlot": "text",
    "BooleanSlot": "bool",
    "CategoricalSlot": "categorical",
    "FloatSlot": "float",
    "ListSlot": "list",
    "AnySlot": "any",
}
_SLOT_KEYS = {
    "type",
    "influence_conversation",
    "initial_value",
    "values",
    "min_value",
    "max_value",
    "mappings",
}
_MAPPING_KEYS = {"type", "entity", "role", "group", "intent", "not_intent", "value", "action", "conditions"}
# What each mapping type needs (rasa/shared/core/slot_mappings.py ``SlotMapping.validate``).
_REQUIRED = {"from_entity": ("entity",), "from_intent": ("value",), "from_trigger_intent": ("value",)}


def parse_slots(src: Source, top: Mapping[str, Any], legacy: bool, warnings: list[str]) -> dict[str, SlotDef]:
    """Parse ``top['slots']``; ``legacy`` (format 2.x) allows ``auto_fill`` and missing mappings."""
    block = src.mapping(top, "slots", "'slots'")
    return {str(name): parse_slot(src, block, name, legacy, warnings) for name in block}


def parse_slot(src: Source, block: Any, name: str, legacy: bool, warnings: list[str]) -> SlotDef:
    """One slot definition; errors point at the offending key."""
    what = f"slot {name!r}"
    spec = src.mapping(block, name, what)
    kind = _slot_type(src, spec, what, warnings)
    custom_class = kind not in SLOT_TYPES
    allowed = _SLOT_KEYS | ({"auto_fill"} if legacy else set())
    if not custom_class:
        src.check_keys(spec, allowed, what)
    elif "auto_fill" in spec and not legacy:
        warnings.append(f"{src.where(spec, 'auto_fill')}: {what}: 'auto_fill' is Rasa 2 only and is ignored")
    influence = spec.get("influence_conversation", kind not in ("any",) and not custom_class)
    if not isinstance(influence, bool):
        src.fail(f"{what}: 'influence_conversation' must be true or false", spec, "influence_conversation")
    if kind == "any" and influence and spec.get("type") != "unfeaturized":
        src.fail(
            f"{what}: a slot of type 'any' cannot influence the conversation; "
            "set influence_conversation: false or use another type",
            spec,
            "influence_conversation",
        )
    fields: dict[str, Any] = {"name": str(name), "type": kind, "influence_conversation": bool(influence)}
    if spec.get("type") == "unfeaturized":
        fields["influence_conversation"] = False
    if "initial_value" in spec:
        fields["initial_value"] = plain(spec["initial_value"])
    if "values" in spec:
        fields["values"] = [plain(v) for v in src.seq(spec, "values", f"{what}: 'values'")]
    if kind == "categorical" and not fields.get("values"):
        warnings.append(f"{src.where(block, name)}: {what} is categorical but lists no 'values'")
    for bound in ("min_value", "max_value"):
        if spec.get(bound) is not None:
            fields[bound] = _number(src, spec, bound, what)
    if "mappings" in spec:
        items = src.seq(spec, "mappings", f"{what}: 'mappings'")
        fields["mappings"] = [parse_mapping(src, items, i, what) for i in range(len(items))]
    return SlotDef(**fields)


def _slot_type(src: Source, spec: Mapping[str, Any], what: str, warnings: list[str]) -> str:
    if "type" not in spec:
        src.fail(f"{what} has no 'type' (one of: {', '.join(SLOT_TYPES)})", spec)
    raw = src.text(spec, "type", f"{what}: 'type'")
    if raw in SLOT_TYPES:
        return raw
    if raw == "unfeaturized":
        warnings.append(
            f"{src.where(spec, 'type')}: {what}: type 'unfeaturized' is Rasa 1; "
            "read as type 'any' with influence_conversation: false"
        )
        return "any"
    short = raw.rsplit(".", 1)[-1]
    if short in _SLOT_CLASSES:
        return _SLOT_CLASSES[short]
    if "." in raw:
        warnings.append(
            f"{src.where(spec, 'type')}: {what} uses the custom slot class {raw!r}; "
            "it is stored as given and featurised like a slot of type 'any'"
        )
        return raw
    src.fail(f"{what}: unknown slot type {raw!r} (expected one of: {', '.join(SLOT_TYPES)})", spec, "type")


def _number(src: Source, spec: Mapping[str, Any], key: str, what: str) -> float:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        src.fail(f"{what}: {key!r} must be a number, found {describe(value)}", spec, key)
    return float(value)


def parse_mapping(src: Source, items: Sequence[Any], index: int, what: str) -> SlotMapping:
    """One entry of a slot's ``mappings`` list (or of a Rasa 2 form's slot mappings)."""
    item = items[index]
    where = f"{what}: mapping {index + 1}"
    if not isinstance(item, Mapping):
        src.fail(f"{where} must be a mapping with a 'type', found {describe(item)}", items, index)
    src.check_keys(item, _MAPPING_KEYS, where)
    if "type" not in item:
        src.fail(f"{where} has no 'type' (one of: {', '.join(MAPPING_TYPES)})", items, index)
    kind = str(plain(item["type"]))
    if kind not in MAPPING_TYPES:
        src.fail(
            f"{what}: unknown mapping type {kind!r} (expected one of: {', '.join(MAPPING_TYPES)})",
            item,
            "type",
        )
    for key in _REQUIRED.get(kind, ()):
        if item.get(key) is None:
            src.fail(f"{where}: a '{kind}' mapping needs a value for {key!r}", items, index)
    fields: dict[str, Any] = {"type": kind}
    for key in ("entity", "role", "group", "action"):
        if item.get(key) is not None:
            fields[key] = src.text(item, key, f"{where}: {key!r}")
    for key in ("intent", "not_intent"):
        if item.get(key) is not None:
            fields[key] = _names(src, item, key, where)
    if "value" in item:
        fields["value"] = plain(item["value"])
    if item.get("conditions") is not None:
        conditions = src.seq(item, "conditions", f"{where}: 'conditions'")
        fields["conditions"] = [_condition(src, conditions, i, where) for i in range(len(conditions))]
    return SlotMapping(**fields)


def _names(src: Source, item: Mapping[str, Any], key: str, where: str) -> list[str]:
    """``intent: greet`` or ``intent: [greet, inform]`` -> a list of names."""
    value = item[key]
    if is_scalar(value):
        return [src.text(item, key, f"{where}: {key!r}")]
    return [src.text(value, i, f"{where}: {key!r} item {i + 1}") for i in range(len(value))]


def _condition(src: Source, conditions: Sequence[Any], index: int, where: str) -> MappingCondition:
    cond = conditions[index]
    what = f"{where}: condition {index + 1}"
    if not isinstance(cond, Mapping):
        src.fail(f"{what} must be a mapping with 'active_loop' and 'requested_slot'", conditions, index)
    src.check_keys(cond, {"active_loop", "requested_slot"}, what)
    values = {k: None if cond[k] is None else str(plain(cond[k])) for k in cond}
    return MappingCondition(**values)


def add_form_mapping(slot: SlotDef, mapping: SlotMapping, form: str) -> None:
    """Rasa 2 form mapping -> slot mapping with the condition ``rasa data migrate`` writes.

    Text/intent mappings only apply while the form asks for this very slot; entity and
    trigger-intent mappings apply whenever the form is active.
    """
    condition = MappingCondition(active_loop=form)
    if mapping.type not in ("from_entity", "from_trigger_intent"):
        condition.requested_slot = slot.name
    for existing in slot.mappings:
        if _same_mapping(existing, mapping):
            existing.conditions.append(condition)
            return
    slot.mappings.append(mapping.model_copy(update={"conditions": [*mapping.conditions, condition]}))


def _same_mapping(a: SlotMapping, b: SlotMapping) -> bool:
    return a.model_dump(exclude={"conditions"}) == b.model_dump(exclude={"conditions"})


def add_implicit_entity_mapping(slot: SlotDef) -> None:
    """Rasa 2's auto-fill: a slot named like an entity is filled by that entity."""
    implicit = SlotMapping(type="from_entity", entity=slot.name)
    if not any(_same_mapping(m, implicit) and not m.conditions for m in slot.mappings):
        slot.mappings.append(implicit)
