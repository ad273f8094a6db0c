"""config.yml's Rasa component names mapped onto our pipeline."""

from __future__ import annotations

from pathlib import Path

from bot.config import BotConfig, ComponentConfig
from bot.loaders import load_config
from bot.nlu.featurizers import VectorizerOptions
from bot.nlu.spec import DEFAULT_EMBEDDINGS, ClassifierOptions, PipelineSpec


def _config(path: Path) -> BotConfig:
    return load_config(path)[0]


def test_empty_pipeline_means_every_default_component() -> None:
    spec = PipelineSpec.from_config(BotConfig(language="pl", languages=["en"]))
    assert (spec.language, spec.languages) == ("pl", ["en"])
    assert spec.classifier.embeddings == DEFAULT_EMBEDDINGS
    assert spec.fallback is not None and spec.fallback.threshold == 0.3
    assert spec.crf is not None and spec.regex_extractor is not None and spec.duckling is not None
    assert spec.synonyms and spec.pattern_features


def test_helpdesk_config(eval_dir: Path) -> None:
    spec = PipelineSpec.from_config(_config(eval_dir / "rasa-bots/helpdesk-assistant/config.yml"))
    assert spec.vectorizers == [
        VectorizerOptions(),
        VectorizerOptions(analyzer="char_wb", min_ngram=1, max_ngram=4),
    ]
    assert spec.classifier.name == "DIETClassifier"
    assert spec.crf is not None and spec.crf.name == "DIETClassifier"  # DIET also extracts entities
    assert spec.fallback is not None
    assert (spec.fallback.threshold, spec.fallback.ambiguity_threshold) == (0.7, 0.1)
    assert spec.duckling is not None and spec.duckling.dimensions == ["email"]
    assert spec.synonyms and spec.pattern_features
    assert spec.regex_extractor is None  # not configured: regexes stay features only


def test_financial_demo_config(eval_dir: Path) -> None:
    spec = PipelineSpec.from_config(_config(eval_dir / "rasa-bots/financial-demo/config.yml"))
    assert spec.duckling is not None and spec.duckling.dimensions == ["amount-of-money", "time", "number"]
    assert spec.crf is not None


def test_classifier_options_and_other_extractors() -> None:
    config = BotConfig(
        pipeline=[
            ComponentConfig(name="LogisticRegressionClassifier", params={"embeddings": "minilm", "C": 3}),
            ComponentConfig(name="CRFEntityExtractor", params={"L1_c": 0.2, "max_iterations": 20}),
            ComponentConfig(name="RegexEntityExtractor", params={"case_sensitive": True}),
            ComponentConfig(name="DucklingEntityExtractor", params={"timezone": "Europe/Warsaw"}),
        ]
    )
    spec = PipelineSpec.from_config(config)
    assert (spec.classifier.name, spec.classifier.embeddings, spec.classifier.C) == (
        "LogisticRegressionClassifier",
        "minilm",
        3,
    )
    assert spec.crf is not None and (spec.crf.name, spec.crf.c1, spec.crf.max_iterations) == (
        "CRFEntityExtractor",
        0.2,
        20,
    )
    assert spec.regex_extractor is not None and spec.regex_extractor.case_sensitive
    assert spec.duckling is not None and spec.duckling.timezone == "Europe/Warsaw"
    assert spec.duckling.dimensions is None
    assert spec.fallback is None and not spec.synonyms
    assert len(spec.vectorizers) == 2  # no CountVectorsFeaturizer configured: our defaults


def test_diet_without_entity_recognition_trains_no_crf() -> None:
    config = BotConfig(
        pipeline=[ComponentConfig(name="DIETClassifier", params={"entity_recognition": False})]
    )
    assert PipelineSpec.from_config(config).crf is None


def test_embedding_weights_default_by_kind_and_can_be_set() -> None:
    def classifier(**params: object) -> ClassifierOptions:
        config = BotConfig(pipeline=[ComponentConfig(name="DIETClassifier", params=params)])
        return PipelineSpec.from_config(config).classifier

    minilm, static = classifier(embeddings="minilm"), classifier(embeddings="static")
    assert (minilm.block_weight, minilm.typicality_weight) == (2.0, 10.0)
    assert (static.block_weight, static.typicality_weight) == (1.0, 0.0)
    tuned = classifier(embeddings="static", embedding_weight=1.5, similarity_weight=4)
    assert (tuned.block_weight, tuned.typicality_weight) == (1.5, 4.0)
