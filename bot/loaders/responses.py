"""Rasa ``responses:`` blocks (in the domain or in data files) -> :class:`ResponseVariation` lists.

Keys Rasa knows but we do not model (``quick_replies``, ``elements``, ``metadata``, ``id``)
are kept as extra fields of the variation, so channels and custom actions still see them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import ResponseButton, ResponseCondition, ResponseVariation
from bot.loaders.yaml_io import Source, describe, is_scalar, plain

_MODELLED = {"text", "buttons", "image", "custom", "attachment", "condition", "channel", "button_type"}


def parse_responses(src: Source, parent: Any, key: str = "responses") -> dict[str, list[ResponseVariation]]:
    """Parse ``parent[key]``: a mapping of response name -> list of variations."""
    block = src.mapping(parent, key, "'responses'")
    out: dict[str, list[ResponseVariation]] = {}
    for name in block:
        what = f"response {name!r}"
        items = src.seq(block, name, what)
        if not items:
            src.fail(f"{what} has no variations", block, name)
        out[str(name)] = [_variation(src, items, i, what) for i in range(len(items))]
    return out


def _variation(src: Source, items: Sequence[Any], index: int, what: str) -> ResponseVariation:
    item = items[index]
    where = f"{what} variation {index + 1}"
    if isinstance(item, str):
        # Rasa 1 allowed a bare string; Rasa 3's schema does not, but the meaning is clear.
        return ResponseVariation(text=str(item))
    if not isinstance(item, Mapping):
        src.fail(
            f"{where} must be a mapping with 'text', 'buttons', ..., found {describe(item)}", items, index
        )
    fields: dict[str, Any] = {k: plain(v) for k, v in item.items() if k not in _MODELLED}
    if "text" in item and item["text"] is not None:
        if not is_scalar(item["text"]):
            src.fail(f"{where}: 'text' must be text, found {describe(item['text'])}", item, "text")
        fields["text"] = str(item["text"])
    for simple in ("image", "channel", "button_type"):
        if item.get(simple) is not None:
            fields[simple] = str(item[simple])
    if item.get("custom") is not None:
        if not isinstance(item["custom"], Mapping):
            src.fail(f"{where}: 'custom' must be a mapping, found {describe(item['custom'])}", item, "custom")
        fields["custom"] = plain(item["custom"])
    if item.get("attachment") is not None:
        fields["attachment"] = plain(item["attachment"])
    if "buttons" in item:
        fields["buttons"] = _buttons(src, item, where)
    if "condition" in item:
        fields["condition"] = _conditions(src, item, where)
    return ResponseVariation(**fields)


def _buttons(src: Source, item: Mapping[str, Any], where: str) -> list[ResponseButton]:
    buttons = src.seq(item, "buttons", f"{where}: 'buttons'")
    out: list[ResponseButton] = []
    for i, button in enumerate(buttons):
        if not isinstance(button, Mapping) or "title" not in button:
            src.fail(f"{where}: button {i + 1} must be a mapping with 'title' and 'payload'", buttons, i)
        # A link button has ``url`` instead of ``payload``; the title is the last resort.
        payload = button.get("payload", button.get("url", button["title"]))
        out.append(ResponseButton(title=str(button["title"]), payload=str(plain(payload))))
    return out


def _conditions(src: Source, item: Mapping[str, Any], where: str) -> list[ResponseCondition]:
    conditions = src.seq(item, "condition", f"{where}: 'condition'")
    out: list[ResponseCondition] = []
    for i, cond in enumerate(conditions):
        if not isinstance(cond, Mapping) or "name" not in cond:
            src.fail(
                f"{where}: condition {i + 1} must be a mapping with 'type', 'name' and 'value'", conditions, i
            )
        kind = cond.get("type", "slot")
        if kind != "slot":
            src.fail(
                f"{where}: condition {i + 1} has type {kind!r}; only 'slot' conditions exist", cond, "type"
            )
        out.append(ResponseCondition(type="slot", name=str(cond["name"]), value=plain(cond.get("value"))))
    return out
