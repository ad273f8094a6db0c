"""Rasa ``config.yml`` -> :class:`BotConfig` plus human-readable warnings.

Never crashes on a component we do not run: unknown and custom (module path) names are
dropped with a warning saying what happens instead, components we replace with our own
keep their place and get an info note, and Rasa 2 policies (FallbackPolicy, FormPolicy,
...) are translated the way Rasa's migration guide says. An empty or missing pipeline or
policy list means Rasa's default config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.config import BotConfig, ComponentConfig
from bot.errors import FormatError
from bot.loaders.components import (
    DEFAULT_PIPELINE,
    DEFAULT_POLICIES,
    DUCKLING_DIMENSIONS,
    PIPELINE,
    POLICIES,
    ComponentInfo,
    Support,
)
from bot.loaders.yaml_io import Source, describe, is_scalar, plain

CONFIG_KEYS = {
    "version",
    "recipe",
    "language",
    "languages",
    "pipeline",
    "policies",
    "assistant_id",
    "importers",
    "data",
    "core_target",
    "nlu_target",
    "train_schema",
    "predict_schema",
}
_LEGACY_FALLBACK = {
    "FallbackPolicy": "fallback_action_name",
    "TwoStageFallbackPolicy": "fallback_core_action_name",
}


def load_config(path: Path) -> tuple[BotConfig, list[str]]:
    """Read ``config.yml``; return the config and warnings (info notes included) for the user."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(str(path), "config file not found (a Rasa project needs config.yml)")
    src = Source.read(path)
    top = src.top()
    warnings: list[str] = []
    for key in top:
        if key not in CONFIG_KEYS:
            warnings.append(f"{src.where(top, key)}: unknown config key {key!r} is ignored")
    config = BotConfig(language=_language(src, top))
    if top.get("languages") is not None:
        config.languages = [str(v) for v in plain(src.seq(top, "languages", "'languages'"))]
    for key in ("assistant_id", "recipe"):
        if top.get(key) is not None:
            setattr(config, key, str(plain(top[key])))
    if config.recipe not in (None, "default.v1"):
        warnings.append(
            f"{src.where(top, 'recipe')}: recipe {config.recipe!r} is not supported; "
            "the pipeline and policies are read as with 'default.v1'"
        )
    config.pipeline = _components(src, top, "pipeline", PIPELINE, DEFAULT_PIPELINE, warnings)
    config.policies = _components(src, top, "policies", POLICIES, DEFAULT_POLICIES, warnings)
    _translate_legacy_policies(src, top, config, warnings)
    _check_duckling(config, src, warnings)
    return config, warnings


def _language(src: Source, top: Mapping[str, Any]) -> str:
    if top.get("language") is None:
        return "en"
    return src.text(top, "language", "'language'")


def _components(
    src: Source,
    top: Mapping[str, Any],
    key: str,
    table: dict[str, ComponentInfo],
    defaults: list[dict[str, object]],
    warnings: list[str],
) -> list[ComponentConfig]:
    raw = top.get(key)
    if isinstance(raw, str):
        warnings.append(
            f"{src.where(top, key)}: the Rasa 1 {key} template {raw!r} is not supported; "
            f"Rasa's default {key} is used"
        )
        raw = None
    items: Sequence[Any] = src.seq(top, key, f"'{key}'") if raw is not None else []
    if not items:
        warnings.append(f"{src.path}: no {key} configured; Rasa's default {key} is used")
        return [
            _known(
                ComponentConfig(name=str(d["name"]), params={k: v for k, v in d.items() if k != "name"}),
                table,
                str(src.path),
                warnings,
            )
            for d in defaults
            if str(d["name"]) in table
        ]
    label = "pipeline component" if key == "pipeline" else "policy"
    verb = "runs" if key == "pipeline" else "run"
    out: list[ComponentConfig] = []
    for i in range(len(items)):
        component = _component(src, items, i, key)
        where = src.where(items, i)
        if component.name in table:
            out.append(_known(component, table, where, warnings))
        elif "." in component.name:
            warnings.append(
                f"{where}: custom {label} {component.name!r} cannot be loaded (Concierge does not "
                f"run Rasa component code); it is skipped and the {key} {verb} without it"
            )
        else:
            warnings.append(
                f"{where}: unknown {label} {component.name!r} is skipped; the {key} {verb} without it"
            )
    return [c for c in out if table[c.name].support is not Support.UNSUPPORTED]


def _component(src: Source, items: Sequence[Any], index: int, key: str) -> ComponentConfig:
    item = items[index]
    if not isinstance(item, Mapping) or item.get("name") is None:
        src.fail(
            f"{key} entry {index + 1} must be a mapping with a 'name', found {describe(item)}", items, index
        )
    if not is_scalar(item["name"]):
        src.fail(f"{key} entry {index + 1}: 'name' must be a component name", item, "name")
    name = str(item["name"]).strip()
    # ``rasa.nlu.classifiers.diet_classifier.DIETClassifier`` is just a built-in's full path.
    short = name.rsplit(".", 1)[-1]
    if name.startswith("rasa.") and (short in PIPELINE or short in POLICIES):
        name = short
    params = {str(k): plain(v) for k, v in item.items() if k != "name"}
    return ComponentConfig(name=name, params=params)


def _known(
    component: ComponentConfig, table: dict[str, ComponentInfo], where: str, warnings: list[str]
) -> ComponentConfig:
    info = table[component.name]
    if info.support is Support.REPLACED:
        warnings.append(f"{where}: info: {component.name}: {info.note}")
    elif info.support is Support.UNSUPPORTED:
        warnings.append(f"{where}: {component.name} is not supported and is skipped: {info.note}")
    return component


def _translate_legacy_policies(
    src: Source, top: Mapping[str, Any], config: BotConfig, warnings: list[str]
) -> None:
    """Rasa 2's FallbackPolicy/TwoStageFallbackPolicy/FormPolicy/MappingPolicy -> Rasa 3 equivalents."""
    raw = top.get("policies")
    legacy = (
        [_component(src, raw, i, "policies") for i in range(len(raw))]
        if isinstance(raw, Sequence) and not isinstance(raw, str)
        else []
    )
    legacy = [
        p
        for p in legacy
        if p.name in ("FallbackPolicy", "TwoStageFallbackPolicy", "FormPolicy", "MappingPolicy")
    ]
    if not legacy:
        return
    rule = config.policy("RulePolicy")
    if rule is None:
        rule = ComponentConfig(name="RulePolicy")
        config.policies.append(rule)
        warnings.append(
            f"{src.path}: info: RulePolicy was added in place of the Rasa 2 policies "
            f"{', '.join(p.name for p in legacy)}"
        )
    for policy in legacy:
        if policy.name not in _LEGACY_FALLBACK:
            continue
        rule.params.setdefault("core_fallback_threshold", policy.get("core_threshold", 0.3))
        rule.params.setdefault(
            "core_fallback_action_name", policy.get(_LEGACY_FALLBACK[policy.name], "action_default_fallback")
        )
        if config.component("FallbackClassifier") is None:
            config.pipeline.append(
                ComponentConfig(
                    name="FallbackClassifier",
                    params={
                        "threshold": policy.get("nlu_threshold", 0.3),
                        "ambiguity_threshold": policy.get("ambiguity_threshold", 0.1),
                    },
                )
            )
            warnings.append(
                f"{src.path}: info: FallbackClassifier was added to the pipeline with "
                f"{policy.name}'s nlu_threshold"
            )


def _check_duckling(config: BotConfig, src: Source, warnings: list[str]) -> None:
    duckling = config.component("DucklingEntityExtractor")
    if duckling is None:
        return
    dims = duckling.get("dimensions") or []
    missing = [d for d in dims if d not in DUCKLING_DIMENSIONS]
    if missing:
        warnings.append(
            f"{src.path}: DucklingEntityExtractor dimensions {', '.join(map(str, missing))} are not "
            f"extracted locally (only {', '.join(DUCKLING_DIMENSIONS)}); they are ignored"
        )
