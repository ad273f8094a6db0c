"""Which Rasa component and policy names Concierge understands, and what it does with the rest.

One table per list (pipeline, policies). ``Support.IMPLEMENTED`` means we run an
equivalent; ``REPLACED`` means we run our own component in its place (the config
loader adds an info note so the user knows); ``UNSUPPORTED`` names are dropped from the
config with a warning saying what happens instead. Names not in a table at all, and
module paths of custom components, are dropped with a warning too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Support(Enum):
    """How much of a Rasa component Concierge runs."""

    IMPLEMENTED = "implemented"
    REPLACED = "replaced"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class ComponentInfo:
    """How a Rasa component name is handled; ``note`` is shown to the user when not IMPLEMENTED."""

    kind: str  # tokenizer, featurizer, classifier, extractor, nlp, policy
    support: Support
    note: str = ""


_I, _R, _U = Support.IMPLEMENTED, Support.REPLACED, Support.UNSUPPORTED
_MINILM = "sentence features come from the bundled MiniLM encoder"
# Local replacements for Duckling's dimensions (no Duckling server is needed).
DUCKLING_DIMENSIONS = ("email", "number", "amount-of-money", "time", "phone-number", "url")

PIPELINE: dict[str, ComponentInfo] = {
    "WhitespaceTokenizer": ComponentInfo("tokenizer", _I),
    "SpacyTokenizer": ComponentInfo(
        "tokenizer", _R, "no spaCy language model is installed; the whitespace tokenizer is used instead"
    ),
    "JiebaTokenizer": ComponentInfo(
        "tokenizer",
        _U,
        "Chinese word segmentation is not available; the whitespace tokenizer is used instead",
    ),
    "MitieTokenizer": ComponentInfo(
        "tokenizer", _U, "MITIE is not available; the whitespace tokenizer is used"
    ),
    "ConveRTTokenizer": ComponentInfo(
        "tokenizer", _U, "a Rasa 2 tokenizer; the whitespace tokenizer is used"
    ),
    "LanguageModelTokenizer": ComponentInfo(
        "tokenizer", _U, "a Rasa 2 tokenizer; the whitespace tokenizer is used"
    ),
    "RegexFeaturizer": ComponentInfo("featurizer", _I),
    "LexicalSyntacticFeaturizer": ComponentInfo("featurizer", _I),
    "CountVectorsFeaturizer": ComponentInfo("featurizer", _I),
    "LanguageModelFeaturizer": ComponentInfo("featurizer", _R, f"no transformer download: {_MINILM}"),
    "ConveRTFeaturizer": ComponentInfo("featurizer", _R, f"ConveRT is not available: {_MINILM}"),
    "SpacyFeaturizer": ComponentInfo("featurizer", _R, f"no spaCy word vectors are installed: {_MINILM}"),
    "MitieFeaturizer": ComponentInfo("featurizer", _U, f"MITIE is not available: {_MINILM}"),
    "HFTransformersNLP": ComponentInfo("nlp", _U, f"a Rasa 2 component: {_MINILM}"),
    "SpacyNLP": ComponentInfo(
        "nlp",
        _R,
        "no spaCy language model is installed; spaCy components fall back as noted for each of them",
    ),
    "MitieNLP": ComponentInfo("nlp", _U, "MITIE is not available; the component is skipped"),
    "DIETClassifier": ComponentInfo(
        "classifier",
        _R,
        "intents are classified by our classifier over "
        "count-vector and MiniLM features, entities by the CRF extractor; "
        "DIET's options (epochs, ...) do not apply",
    ),
    "SklearnIntentClassifier": ComponentInfo("classifier", _I),
    "LogisticRegressionClassifier": ComponentInfo("classifier", _I),
    "KeywordIntentClassifier": ComponentInfo("classifier", _I),
    "MitieIntentClassifier": ComponentInfo(
        "classifier", _U, "MITIE is not available; the other intent classifiers of the pipeline decide"
    ),
    "FallbackClassifier": ComponentInfo("classifier", _I),
    "ResponseSelector": ComponentInfo("classifier", _I),
    "CRFEntityExtractor": ComponentInfo("extractor", _I),
    "RegexEntityExtractor": ComponentInfo("extractor", _I),
    "EntitySynonymMapper": ComponentInfo("extractor", _I),
    "DucklingEntityExtractor": ComponentInfo(
        "extractor",
        _R,
        "no Duckling server is called: the "
        f"dimensions {', '.join(DUCKLING_DIMENSIONS)} are extracted locally",
    ),
    "SpacyEntityExtractor": ComponentInfo(
        "extractor",
        _R,
        "no spaCy model is installed: PERSON and other "
        "spaCy entities come from the trainable extractor and your "
        "annotated examples",
    ),
    "MitieEntityExtractor": ComponentInfo(
        "extractor", _U, "MITIE is not available; entities come from the trainable extractor"
    ),
}

POLICIES: dict[str, ComponentInfo] = {
    "RulePolicy": ComponentInfo("policy", _I),
    "MemoizationPolicy": ComponentInfo("policy", _I),
    "AugmentedMemoizationPolicy": ComponentInfo("policy", _I),
    "TEDPolicy": ComponentInfo(
        "policy",
        _R,
        "next actions not covered by rules or memorised stories are "
        "predicted by our ML policy; TED's options (epochs, ...) do not apply",
    ),
    "UnexpecTEDIntentPolicy": ComponentInfo(
        "policy", _R, "our ML policy flags unlikely intents; its options do not apply"
    ),
    "FormPolicy": ComponentInfo(
        "policy", _U, "a Rasa 2 policy removed in Rasa 3: forms run through RulePolicy, which was added"
    ),
    "MappingPolicy": ComponentInfo(
        "policy",
        _U,
        "a Rasa 2 policy removed in Rasa 3: write rules for "
        "intents that trigger actions; RulePolicy was added",
    ),
    "FallbackPolicy": ComponentInfo(
        "policy",
        _U,
        "a Rasa 2 policy removed in Rasa 3: its thresholds move to FallbackClassifier and RulePolicy",
    ),
    "TwoStageFallbackPolicy": ComponentInfo(
        "policy",
        _U,
        "a Rasa 2 policy removed in Rasa 3: its "
        "thresholds move to FallbackClassifier and RulePolicy; add a rule "
        "'nlu_fallback -> action_two_stage_fallback' for the two stages",
    ),
    "KerasPolicy": ComponentInfo("policy", _U, "a Rasa 1 policy; our ML policy is used instead"),
    "EmbeddingPolicy": ComponentInfo("policy", _U, "a Rasa 1 policy; our ML policy is used instead"),
    "SklearnPolicy": ComponentInfo("policy", _U, "a Rasa 1 policy; our ML policy is used instead"),
}

# Rasa 3's default config (rasa/shared/importers/default_config.yml), used when a list is empty.
DEFAULT_PIPELINE: list[dict[str, object]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]
DEFAULT_POLICIES: list[dict[str, object]] = [
    {"name": "MemoizationPolicy"},
    {"name": "RulePolicy"},
    {"name": "UnexpecTEDIntentPolicy", "max_history": 5, "epochs": 100},
    {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
]
