"""Rasa ``domain.yml`` (or a ``domain/`` directory of several files) -> :class:`Domain`.

Each file is parsed on its own (its ``version`` decides whether Rasa 2 forms and
``auto_fill`` apply), then the parts are merged like Rasa's ``Domain.from_directory``
(see :mod:`bot.loaders.domain_merge`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.domain import Domain, EntityDef, FormDef, IntentDef, SessionConfig
from bot.errors import FormatError
from bot.loaders.domain_merge import DomainPart, FormSlotMapping, merge_parts
from bot.loaders.responses import parse_responses
from bot.loaders.slots import parse_mapping, parse_slots
from bot.loaders.yaml_io import Source, describe, is_scalar, plain, version_tuple, yaml_files

DOMAIN_KEYS = {
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "session_config",
    "config",
    "e2e_actions",
}
_INTENT_KEYS = {"use_entities", "ignore_entities", "triggers", "is_retrieval_intent"}
_ENTITY_KEYS = {"roles", "groups", "influence_conversation"}


def domain_paths(target: Path) -> list[Path]:
    """A domain file itself, or the domain files of a directory (files with domain keys)."""
    if target.is_dir():
        return [p for p in yaml_files(target) if is_domain_file(p)]
    if not target.is_file():
        raise FormatError(str(target), "no domain file found (expected domain.yml or a domain/ directory)")
    return [target]


def is_domain_file(path: Path) -> bool:
    """True when a YAML file has at least one top-level domain key besides ``version``."""
    root = Source.read(path).root
    return isinstance(root, Mapping) and any(k in DOMAIN_KEYS - {"version"} for k in root)


def load_domain(paths: Sequence[Path], warnings: list[str] | None = None) -> Domain:
    """Load and merge domain files (directories are searched recursively).

    ``warnings`` collects what Rasa would warn about (duplicates, legacy keys);
    malformed content raises :class:`FormatError` naming file and line.
    """
    notes = warnings if warnings is not None else []
    files = [p for target in paths for p in domain_paths(Path(target))]
    if not files:
        raise FormatError(", ".join(str(p) for p in paths) or "domain", "no domain file found")
    parts = [parse_domain_source(Source.read(p), notes) for p in files]
    return merge_parts(parts, notes)


def parse_domain_source(src: Source, warnings: list[str]) -> DomainPart:
    """Parse one domain file into a :class:`DomainPart`."""
    top = src.top()
    legacy = version_tuple(src.check_version()) < (3, 0)
    for key in top:
        if key not in DOMAIN_KEYS:
            warnings.append(f"{src.where(top, key)}: unknown domain key {key!r} is ignored")
    part = DomainPart(path=src.path, domain=Domain(), legacy=legacy)
    d = part.domain
    if "intents" in top:
        d.intents = _intents(src, top)
    if "entities" in top:
        d.entities = _entities(src, top)
    if "slots" in top:
        d.slots = parse_slots(src, top, legacy, warnings)
        if legacy:
            block = top["slots"] or {}
            part.auto_fill = {name: bool((block[name] or {}).get("auto_fill", True)) for name in d.slots}
    if "responses" in top:
        d.responses = parse_responses(src, top)
    if "actions" in top:
        d.actions = _actions(src, top)
    if "forms" in top:
        d.forms = _forms(src, top, part, warnings)
    if "session_config" in top:
        d.session_config = _session_config(src, top)
        part.has_session_config = True
    if "config" in top:
        cfg = src.mapping(top, "config", "'config'")
        part.store_entities_as_slots = bool(cfg.get("store_entities_as_slots", True))
    return part


def _intents(src: Source, top: Mapping[str, Any]) -> list[IntentDef]:
    items = src.seq(top, "intents", "'intents'")
    out: list[IntentDef] = []
    for i, item in enumerate(items):
        if is_scalar(item):
            out.append(IntentDef(name=src.text(items, i, f"intent {i + 1}")))
            continue
        name, props = _single_entry(src, items, i, "intent")
        src.check_keys(props, _INTENT_KEYS, f"intent {name!r}")
        out.append(_intent_def(src, name, props))
    return out


def _single_entry(src: Source, items: Sequence[Any], index: int, what: str) -> tuple[str, Mapping[str, Any]]:
    """``- name: {props}`` list items: exactly one key, whose value is a mapping or empty."""
    item = items[index]
    if not isinstance(item, Mapping) or len(item) != 1:
        src.fail(f"{what} {index + 1} must be a name or a single 'name: {{properties}}' entry", items, index)
    name = str(next(iter(item)))
    return name, src.mapping(item, name, f"{what} {name!r}")


def _intent_def(src: Source, name: str, props: Mapping[str, Any]) -> IntentDef:
    what = f"intent {name!r}"
    if "use_entities" in props and "ignore_entities" in props:
        src.fail(
            f"{what}: use either 'use_entities' or 'ignore_entities', not both", props, "ignore_entities"
        )
    fields: dict[str, Any] = {"name": name}
    use = props.get("use_entities", True)
    if use is True or use is None:
        fields["use_entities"] = None
    elif use is False:
        fields["use_entities"] = []
    else:
        fields["use_entities"] = [
            str(e) for e in plain(src.seq(props, "use_entities", f"{what}: 'use_entities'"))
        ]
    if props.get("ignore_entities") is not None:
        seq = src.seq(props, "ignore_entities", f"{what}: 'ignore_entities'")
        fields["ignore_entities"] = [str(e) for e in plain(seq)]
    return IntentDef(**fields)


def _entities(src: Source, top: Mapping[str, Any]) -> list[EntityDef]:
    items = src.seq(top, "entities", "'entities'")
    out: list[EntityDef] = []
    for i, item in enumerate(items):
        if is_scalar(item):
            out.append(EntityDef(name=src.text(items, i, f"entity {i + 1}")))
            continue
        name, props = _single_entry(src, items, i, "entity")
        what = f"entity {name!r}"
        src.check_keys(props, _ENTITY_KEYS, what)
        fields: dict[str, Any] = {"name": name}
        for key in ("roles", "groups"):
            if props.get(key) is not None:
                fields[key] = [str(v) for v in plain(src.seq(props, key, f"{what}: {key!r}"))]
        if "influence_conversation" in props:
            if not isinstance(props["influence_conversation"], bool):
                src.fail(
                    f"{what}: 'influence_conversation' must be true or false", props, "influence_conversation"
                )
            fields["influence_conversation"] = props["influence_conversation"]
        out.append(EntityDef(**fields))
    return out


def _actions(src: Source, top: Mapping[str, Any]) -> list[str]:
    """Action names; Rasa 3 also allows ``- action_x: {send_domain: true}`` entries."""
    items = src.seq(top, "actions", "'actions'")
    names: list[str] = []
    for i, item in enumerate(items):
        if is_scalar(item):
            names.append(src.text(items, i, f"action {i + 1}"))
            continue
        name, props = _single_entry(src, items, i, "action")
        src.check_keys(props, {"send_domain"}, f"action {name!r}")
        names.append(name)
    return names


def _forms(src: Source, top: Mapping[str, Any], part: DomainPart, warnings: list[str]) -> dict[str, FormDef]:
    block = src.mapping(top, "forms", "'forms'")
    forms: dict[str, FormDef] = {}
    for name in block:
        what = f"form {name!r}"
        spec = src.mapping(block, name, what)
        required: Any = spec.get("required_slots")
        if "required_slots" not in spec and any(k not in ("ignored_intents",) for k in spec):
            # Rasa 2.0 wrote slot mappings directly under the form's name.
            required = {k: v for k, v in spec.items() if k != "ignored_intents"}
        fields: dict[str, Any] = {"name": str(name)}
        if spec.get("ignored_intents") is not None:
            fields["ignored_intents"] = _name_list(src, spec, "ignored_intents", what)
        if isinstance(required, Mapping):
            if not part.legacy:
                warnings.append(
                    f"{src.where(block, name)}: {what} lists slot mappings under 'required_slots' "
                    "(Rasa 2 format); they were moved into the slots"
                )
            fields["required_slots"] = _legacy_required(
                src, spec if "required_slots" not in spec else spec["required_slots"], str(name), part
            )
        elif required is not None:
            fields["required_slots"] = _name_list(src, spec, "required_slots", what)
        forms[str(name)] = FormDef(**fields)
    return forms


def _legacy_required(src: Source, slots: Mapping[str, Any], form: str, part: DomainPart) -> list[str]:
    names: list[str] = []
    for slot in slots:
        if slot == "ignored_intents":
            continue
        names.append(str(slot))
        items = src.seq(slots, slot, f"form {form!r} slot {slot!r}")
        for i in range(len(items)):
            mapping = parse_mapping(src, items, i, f"form {form!r} slot {slot!r}")
            part.form_mappings.append(FormSlotMapping(form, str(slot), mapping))
    return names


def _name_list(src: Source, spec: Mapping[str, Any], key: str, what: str) -> list[str]:
    value = spec[key]
    if is_scalar(value):
        return [src.text(spec, key, f"{what}: {key!r}")]
    return [src.text(value, i, f"{what}: {key!r} item {i + 1}") for i in range(len(value))]


def _session_config(src: Source, top: Mapping[str, Any]) -> SessionConfig:
    spec = src.mapping(top, "session_config", "'session_config'")
    src.check_keys(spec, {"session_expiration_time", "carry_over_slots_to_new_session"}, "session_config")
    fields: dict[str, Any] = {}
    minutes = spec.get("session_expiration_time")
    if minutes is not None:
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 0:
            src.fail(
                f"session_expiration_time must be minutes (a number >= 0), found {describe(minutes)}",
                spec,
                "session_expiration_time",
            )
        fields["session_expiration_time"] = float(minutes)
    carry = spec.get("carry_over_slots_to_new_session")
    if carry is not None:
        if not isinstance(carry, bool):
            src.fail(
                "carry_over_slots_to_new_session must be true or false",
                spec,
                "carry_over_slots_to_new_session",
            )
        fields["carry_over_slots_to_new_session"] = carry
    return SessionConfig(**fields)
