"""Rasa story and rule files (``stories:`` / ``rules:``) -> :class:`StoryData`.

Follows rasa/shared/core/training_data/story_reader/yaml_story_reader.py, but a step
Rasa's schema would reject (a typo like ``acton``) is an error with file and line
instead of a silently skipped step. Test stories (``tests/*.yml``, with ``user:`` texts
and inline entity annotations) load with the same functions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.loaders.annotations import AnnotationError, parse_annotated
from bot.loaders.yaml_io import Source, describe, expand_paths, is_scalar, plain
from bot.training_data import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    EntitySpan,
    OrStep,
    SlotStep,
    Step,
    Story,
    StoryData,
    UserStep,
)

_ITEM_KEYS = {
    "story": {"story", "steps", "metadata"},
    "rule": {"rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata"},
}
# Keys that may appear together in one step, by the key that decides the step's kind.
_STEP_KEYS = {
    "intent": {"intent", "user", "entities", "metadata"},
    "user": {"intent", "user", "entities", "metadata"},
    "or": {"or"},
    "action": {"action", "metadata"},
    "bot": {"bot", "metadata"},
    "checkpoint": {"checkpoint", "slot_was_set"},
    "slot_was_set": {"slot_was_set"},
    "active_loop": {"active_loop"},
    "metadata": {"metadata"},
}
_KNOWN_STEP_KEYS = set().union(*_STEP_KEYS.values())
# ``/intent{"entity": "value"}`` user messages, as Rasa's RegexInterpreter reads them.
_INTENT_MESSAGE = re.compile(r"^/(?P<intent>[^{@]+?)(?:@[0-9.]+)?(?P<entities>\{.*\})?\s*$", re.DOTALL)


def load_stories(paths: Sequence[Path], warnings: list[str] | None = None) -> StoryData:
    """Read stories and rules from YAML files or directories (files without those keys add nothing)."""
    out = StoryData()
    notes = warnings if warnings is not None else []
    for path in expand_paths(paths):
        parse_story_source(Source.read(Path(path)), out, notes)
    return out


def parse_story_source(src: Source, out: StoryData, warnings: list[str]) -> None:
    """Add the ``stories:`` and ``rules:`` of one parsed file to ``out``."""
    top = src.top()
    src.check_version()
    for plural, title in (("stories", "story"), ("rules", "rule")):
        if plural not in top:
            continue
        items = src.seq(top, plural, f"'{plural}'")
        target = out.stories if title == "story" else out.rules
        for i in range(len(items)):
            story = _item(src, items, i, title, warnings)
            if story is not None:
                target.append(story)


def _item(src: Source, items: Sequence[Any], index: int, title: str, warnings: list[str]) -> Story | None:
    item = items[index]
    if not isinstance(item, Mapping) or title not in item:
        src.fail(f"{title} {index + 1} must be a mapping with a '{title}' name and 'steps'", items, index)
    src.check_keys(item, _ITEM_KEYS[title], f"{title} {index + 1}")
    source = src.where(items, index)
    name = str(plain(item[title]) or "").strip()
    what = f"{title} {name!r}"
    if not name:
        warnings.append(f"{source}: {title} {index + 1} has an empty name")
    steps_raw = src.seq(item, "steps", f"{what}: 'steps'") if "steps" in item else []
    if not steps_raw:
        warnings.append(f"{source}: {what} has no steps and is skipped")
        return None
    story = Story(name=name, source=source, is_rule=title == "rule")
    story.steps = [s for i in range(len(steps_raw)) for s in _step(src, steps_raw, i, f"{what} step {i + 1}")]
    if title == "rule":
        _rule_options(src, item, story, what)
    return story


def _rule_options(src: Source, item: Mapping[str, Any], story: Story, what: str) -> None:
    if item.get("condition") is not None:
        conds = src.seq(item, "condition", f"{what}: 'condition'")
        story.condition = [
            s for i in range(len(conds)) for s in _step(src, conds, i, f"{what} condition {i + 1}")
        ]
    for key in ("conversation_start", "wait_for_user_input"):
        if key in item:
            if not isinstance(item[key], bool):
                src.fail(f"{what}: {key!r} must be true or false, found {describe(item[key])}", item, key)
            setattr(story, key, item[key])


def _step(src: Source, steps: Sequence[Any], index: int, what: str) -> list[Step]:
    """One YAML step -> model steps (``slot_was_set`` with several slots gives several)."""
    step = steps[index]
    if not isinstance(step, Mapping):
        src.fail(
            f"{what} must be a mapping like 'intent: ...' or 'action: ...', found {describe(step)}",
            steps,
            index,
        )
    for key in step:
        if key not in _KNOWN_STEP_KEYS:
            src.fail(f"{what}: unknown step key {key!r}", step, key)
    kind = next((k for k in _STEP_KEYS if k in step), None)
    if kind is None:
        src.fail(f"{what} is empty", steps, index)
    src.check_keys(step, _STEP_KEYS[kind], f"{what} ({kind})")
    if kind == "metadata":
        return []
    if kind == "slot_was_set":
        return list(_slots(src, step, what))
    return [_STEP_PARSERS[kind](src, step, what)]


def _user(src: Source, step: Mapping[str, Any], what: str) -> UserStep:
    intent = _intent_name(src, step, what)
    if step.get("user") is not None:
        raw = str(step["user"]).strip()
        try:
            text, spans = parse_annotated(raw)
        except AnnotationError as exc:
            src.fail(f"{what}: {exc}", step, "user")
        if text.startswith("/"):
            return _intent_message(src, step, text, what, intent)
        return UserStep(intent=intent, text=text, entities=list(spans))
    entities = src.seq(step, "entities", f"{what}: 'entities'") if "entities" in step else []
    return UserStep(intent=intent, entities=[_entity(src, entities, i, what) for i in range(len(entities))])


def _intent_name(src: Source, step: Mapping[str, Any], what: str) -> str | None:
    if step.get("intent") is None:
        if "user" not in step:
            src.fail(f"{what}: 'intent' must not be empty", step, "intent")
        return None
    name = src.text(step, "intent", f"{what}: 'intent'")
    # Rasa accepts (and warns about) a leading slash.
    return name[1:] if name.startswith("/") else name


def _intent_message(
    src: Source, step: Mapping[str, Any], text: str, what: str, intent: str | None
) -> UserStep:
    match = _INTENT_MESSAGE.match(text)
    if match is None:
        src.fail(f'{what}: {text!r} is not a \'/intent{{"entity": "value"}}\' message', step, "user")
    entities: list[EntitySpan | dict[str, Any]] = []
    if match.group("entities"):
        try:
            parsed = json.loads(match.group("entities"))
        except json.JSONDecodeError as exc:
            src.fail(f"{what}: entities of {text!r} are not valid JSON: {exc.msg}", step, "user")
        for name, value in parsed.items():
            values = value if isinstance(value, list) else [value]
            entities.extend({"entity": name, "value": v} for v in values)
    return UserStep(intent=intent or match.group("intent").strip(), text=text, entities=entities)


def _entity(src: Source, entities: Sequence[Any], index: int, what: str) -> dict[str, Any]:
    """``- city: Berlin`` (with optional ``role``/``group``) or a bare ``- city`` (value ``""``).

    As in Rasa, every key but ``role`` and ``group`` names the entity, so ``- entity: date
    ranges`` is the entity called ``entity`` with the value "date ranges" (Rasa's own demo
    bot has such steps). Our extension, the explicit ``{entity: ..., value: ...}`` form, is
    recognised only when both keys are there.
    """
    item = entities[index]
    if is_scalar(item):
        return {"entity": src.text(entities, index, f"{what}: entity {index + 1}"), "value": ""}
    if not isinstance(item, Mapping):
        src.fail(f"{what}: entity {index + 1} must be 'name: value' or a name", entities, index)
    data = plain(item)
    if "entity" in data and "value" in data:  # the explicit form {entity, value, role, group}
        out = {k: data.get(k) for k in ("entity", "value", "role", "group")}
    else:
        out = {"role": data.pop("role", None), "group": data.pop("group", None)}
        if len(data) != 1:
            src.fail(f"{what}: entity {index + 1} must have exactly one 'name: value' pair", entities, index)
        ((name, value),) = data.items()
        out.update(entity=str(name), value=value)
    return {k: v for k, v in out.items() if v is not None}


def _action(src: Source, step: Mapping[str, Any], what: str) -> ActionStep:
    return ActionStep(name=src.text(step, "action", f"{what}: 'action'"))


def _bot(src: Source, step: Mapping[str, Any], what: str) -> ActionStep:
    if step["bot"] is None or not is_scalar(step["bot"]):
        src.fail(f"{what}: 'bot' must be the text the bot says", step, "bot")
    return ActionStep(bot_text=str(step["bot"]).strip())


def _slots(src: Source, step: Mapping[str, Any], what: str) -> list[SlotStep]:
    raw = step["slot_was_set"]
    if isinstance(raw, Mapping):  # lenient: a mapping instead of a list of mappings
        return [SlotStep(name=str(k), value=plain(v)) for k, v in raw.items()]
    items = src.seq(step, "slot_was_set", f"{what}: 'slot_was_set'")
    out: list[SlotStep] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            out.extend(SlotStep(name=str(k), value=plain(v)) for k, v in item.items())
        elif is_scalar(item) and item is not None:
            out.append(SlotStep(name=str(item), any_value=True))
        else:
            src.fail(f"{what}: slot {i + 1} must be 'name: value' or a slot name", items, i)
    return out


def _active_loop(src: Source, step: Mapping[str, Any], what: str) -> ActiveLoopStep:
    value = step["active_loop"]
    if value is None:
        return ActiveLoopStep(name=None)
    return ActiveLoopStep(name=src.text(step, "active_loop", f"{what}: 'active_loop'"))


def _checkpoint(src: Source, step: Mapping[str, Any], what: str) -> CheckpointStep:
    name = src.text(step, "checkpoint", f"{what}: 'checkpoint'")
    slots = _slots(src, step, what) if step.get("slot_was_set") is not None else []
    return CheckpointStep(name=name, slot_was_set=slots)


def _or(src: Source, step: Mapping[str, Any], what: str) -> OrStep:
    alts = src.seq(step, "or", f"{what}: 'or'")
    out: list[UserStep | SlotStep] = []
    for i, alt in enumerate(alts):
        where = f"{what} alternative {i + 1}"
        if isinstance(alt, Mapping) and ("intent" in alt or "user" in alt):
            src.check_keys(alt, _STEP_KEYS["intent"], where)
            out.append(_user(src, alt, where))
        elif isinstance(alt, Mapping) and "slot_was_set" in alt:
            src.check_keys(alt, {"slot_was_set"}, where)
            out.extend(_slots(src, alt, where))
        else:
            src.fail(f"{where}: 'or' alternatives must be 'intent' or 'slot_was_set' steps", alts, i)
    if not out:
        src.fail(f"{what}: 'or' has no alternatives", step, "or")
    return OrStep(alternatives=out)


_STEP_PARSERS: dict[str, Callable[[Source, Mapping[str, Any], str], Step]] = {
    "intent": _user,
    "user": _user,
    "or": _or,
    "action": _action,
    "bot": _bot,
    "checkpoint": _checkpoint,
    "active_loop": _active_loop,
}
