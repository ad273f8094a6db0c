"""Merging parsed domain files into one :class:`Domain`, then Rasa's post-processing.

Lists are de-duplicated, the first definition of a slot/response/form wins (a second
one is a warning), and Rasa 2 migrations run after the merge because a form in one
file may fill slots defined in another. Finally Rasa's implicit slots are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain import REQUESTED_SLOT, SESSION_STARTED_METADATA_SLOT, Domain, SlotDef, SlotMapping
from bot.loaders.slots import add_form_mapping, add_implicit_entity_mapping


@dataclass
class FormSlotMapping:
    """A Rasa 2 form's mapping for one of its slots, applied to the slot after merging."""

    form: str
    slot: str
    mapping: SlotMapping


@dataclass
class DomainPart:
    """What one domain file contributes, before merging."""

    path: Path
    domain: Domain
    legacy: bool = False
    form_mappings: list[FormSlotMapping] = field(default_factory=list)
    auto_fill: dict[str, bool] = field(default_factory=dict)  # legacy slots: auto_fill flag
    store_entities_as_slots: bool = True
    has_session_config: bool = False


def merge_parts(parts: list[DomainPart], warnings: list[str]) -> Domain:
    """Merge parsed files into one domain, then apply Rasa 2 migrations and Rasa's implicit slots."""
    merged = Domain()
    for part in parts:
        _merge_into(merged, part, warnings)
    _migrate_legacy(merged, parts, warnings)
    _check_forms(merged, warnings)
    _add_default_slots(merged)
    return merged


def _merge_into(merged: Domain, part: DomainPart, warnings: list[str]) -> None:
    d = part.domain
    for intent in d.intents:
        if merged.intent(intent.name) is None:
            merged.intents.append(intent)
    for entity in d.entities:
        if entity.name not in merged.entity_names:
            merged.entities.append(entity)
    for action in d.actions:
        if action not in merged.actions:
            merged.actions.append(action)
    for attr in ("slots", "responses", "forms"):
        target: dict[str, Any] = getattr(merged, attr)
        for name, value in getattr(d, attr).items():
            if name in target:
                warnings.append(
                    f"{part.path}: {attr[:-1]} {name!r} is defined twice; the first definition is kept"
                )
                continue
            target[name] = value
    if part.has_session_config:
        merged.session_config = d.session_config


def _migrate_legacy(merged: Domain, parts: list[DomainPart], warnings: list[str]) -> None:
    """What ``rasa data migrate`` does to a 2.x domain, in the same order."""
    entity_names = set(merged.entity_names)
    for part in parts:
        for fm in part.form_mappings:
            slot = merged.slots.get(fm.slot)
            if slot is None:
                warnings.append(
                    f"{part.path}: form {fm.form!r} fills slot {fm.slot!r} which is not in 'slots'; "
                    "it was added as a text slot that does not influence the conversation"
                )
                slot = merged.slots[fm.slot] = SlotDef(
                    name=fm.slot, type="text", influence_conversation=False
                )
            add_form_mapping(slot, fm.mapping, fm.form)
    for part in parts:
        if not part.legacy:
            continue
        for name, auto_fill in part.auto_fill.items():
            slot = merged.slots[name]
            if auto_fill and part.store_entities_as_slots and name in entity_names:
                add_implicit_entity_mapping(slot)
            if not slot.mappings:
                slot.mappings.append(SlotMapping(type="custom"))


def _check_forms(merged: Domain, warnings: list[str]) -> None:
    for form in merged.forms.values():
        for slot in form.required_slots:
            if slot not in merged.slots:
                warnings.append(
                    f"form {form.name!r} requires slot {slot!r} which is not in the domain's 'slots'; "
                    "it was added as a text slot that does not influence the conversation"
                )
                merged.slots[slot] = SlotDef(name=slot, type="text", influence_conversation=False)


def _add_default_slots(merged: Domain) -> None:
    """Rasa adds ``requested_slot`` when there are forms and always ``session_started_metadata``."""
    if merged.forms and REQUESTED_SLOT not in merged.slots:
        merged.slots[REQUESTED_SLOT] = SlotDef(name=REQUESTED_SLOT, type="text", influence_conversation=False)
    if SESSION_STARTED_METADATA_SLOT not in merged.slots:
        merged.slots[SESSION_STARTED_METADATA_SLOT] = SlotDef(
            name=SESSION_STARTED_METADATA_SLOT, type="any", influence_conversation=False
        )


def merge_responses(domain: Domain, responses: Mapping[str, Any], origin: str, warnings: list[str]) -> None:
    """Add responses found in data files (retrieval responses) to the domain; the domain's win."""
    for name, variations in responses.items():
        if name in domain.responses:
            warnings.append(
                f"{origin}: response {name!r} is also defined in the domain; the domain's is kept"
            )
            continue
        domain.responses[name] = variations
