"""config.yml loads into :class:`BotConfig`; anything we do not run becomes a clear warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.loaders import load_config

from .helpers import write


def test_financial_demo_config(eval_dir: Path) -> None:
    config, warnings = load_config(eval_dir / "rasa-bots" / "financial-demo" / "config.yml")
    assert config.language == "en"
    assert [c.name for c in config.pipeline] == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "FallbackClassifier",
        "DucklingEntityExtractor",
        "SpacyNLP",
        "SpacyEntityExtractor",
        "EntitySynonymMapper",
    ]
    assert config.pipeline[4].params == {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}
    assert config.component("FallbackClassifier").get("threshold") == 0.7  # type: ignore[union-attr]
    assert config.component("DucklingEntityExtractor").get("dimensions") == [  # type: ignore[union-attr]
        "amount-of-money",
        "time",
        "number",
    ]
    assert [p.name for p in config.policies] == ["AugmentedMemoizationPolicy", "TEDPolicy", "RulePolicy"]
    assert config.policy("RulePolicy").get("core_fallback_threshold") == 0.4  # type: ignore[union-attr]
    spacy = [w for w in warnings if "SpacyEntityExtractor" in w]
    assert len(spacy) == 1 and "PERSON" in spacy[0] and ":25:" in spacy[0]
    assert any("info: DIETClassifier" in w for w in warnings)


def test_unknown_and_custom_components_warn_and_are_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yml": """
        language: de
        pipeline:
        - name: WhitespaceTokenizer
        - name: FancyTokenizer
        - name: my.module.Component
          option: 1
        - name: rasa.nlu.classifiers.diet_classifier.DIETClassifier
        - name: MitieNLP
        policies:
        - name: RulePolicy
        - name: WeirdPolicy
    """
        },
    )
    config, warnings = load_config(tmp_path / "config.yml")
    assert config.language == "de"
    assert [c.name for c in config.pipeline] == ["WhitespaceTokenizer", "DIETClassifier"]
    assert [p.name for p in config.policies] == ["RulePolicy"]
    path = tmp_path / "config.yml"
    assert (
        f"{path}:4: unknown pipeline component 'FancyTokenizer' is skipped; the pipeline runs without it"
        in warnings
    )
    assert any(
        w.startswith(f"{path}:5: custom pipeline component 'my.module.Component' cannot be loaded")
        for w in warnings
    )
    assert any(w.startswith(f"{path}:8: MitieNLP is not supported and is skipped") for w in warnings)
    assert f"{path}:11: unknown policy 'WeirdPolicy' is skipped; the policies run without it" in warnings


@pytest.mark.parametrize(
    "body", ["", "language: en\n", "pipeline: []\npolicies:\n", "pipeline:\npolicies: []\n"]
)
def test_empty_pipeline_and_policies_give_rasa_defaults(tmp_path: Path, body: str) -> None:
    write(tmp_path, {"config.yml": body})
    config, warnings = load_config(tmp_path / "config.yml")
    assert [c.name for c in config.pipeline] == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "EntitySynonymMapper",
        "ResponseSelector",
        "FallbackClassifier",
    ]
    assert config.component("FallbackClassifier").params == {  # type: ignore[union-attr]
        "threshold": 0.3,
        "ambiguity_threshold": 0.1,
    }
    assert [p.name for p in config.policies] == [
        "MemoizationPolicy",
        "RulePolicy",
        "UnexpecTEDIntentPolicy",
        "TEDPolicy",
    ]
    assert any("no pipeline configured; Rasa's default pipeline is used" in w for w in warnings)
    assert any("no policies configured" in w for w in warnings)


def test_rasa2_fallback_policy_is_translated(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "config.yml": """
        pipeline:
        - name: WhitespaceTokenizer
        policies:
        - name: MemoizationPolicy
        - name: FallbackPolicy
          nlu_threshold: 0.4
          core_threshold: 0.25
          fallback_action_name: action_my_fallback
        - name: FormPolicy
    """
        },
    )
    config, warnings = load_config(tmp_path / "config.yml")
    assert [p.name for p in config.policies] == ["MemoizationPolicy", "RulePolicy"]
    assert config.policy("RulePolicy").params == {  # type: ignore[union-attr]
        "core_fallback_threshold": 0.25,
        "core_fallback_action_name": "action_my_fallback",
    }
    assert config.component("FallbackClassifier").params == {  # type: ignore[union-attr]
        "threshold": 0.4,
        "ambiguity_threshold": 0.1,
    }
    assert any("FallbackPolicy is not supported" in w for w in warnings)


def test_unsupported_duckling_dimension_warns(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"config.yml": "pipeline:\n- name: DucklingEntityExtractor\n  dimensions: [email, distance]\n"},
    )
    _, warnings = load_config(tmp_path / "config.yml")
    assert any("dimensions distance are not extracted locally" in w for w in warnings)


def test_component_without_name_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"config.yml": "pipeline:\n- name: WhitespaceTokenizer\n- epochs: 3\n"})
    with pytest.raises(FormatError) as err:
        load_config(tmp_path / "config.yml")
    assert err.value.line == 3 and "pipeline entry 2" in err.value.reason


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as err:
        load_config(tmp_path / "config.yml")
    assert err.value.path == str(tmp_path / "config.yml")
