"""``config.yml``'s NLU pipeline (Rasa component names) mapped onto our components.

| Rasa name(s)                                             | here                                  |
|----------------------------------------------------------|---------------------------------------|
| any ``*Tokenizer``                                       | spaCy blank tokenizer (regex fallback) |
| ``CountVectorsFeaturizer``                               | one TF-IDF block each                  |
| ``RegexFeaturizer``                                      | regex/lookup hit features              |
| ``LexicalSyntacticFeaturizer``                           | the CRF's token features               |
| ``DIETClassifier``, ``SklearnIntentClassifier``,         | calibrated linear classifier; DIET's   |
| ``LogisticRegressionClassifier``, ``MitieIntentClassifier``, | entity half is the CRF extractor   |
| ``KeywordIntentClassifier``                              |                                       |
| ``CRFEntityExtractor``                                   | the CRF extractor                      |
| ``RegexEntityExtractor``                                 | regex/lookup entity extractor          |
| ``DucklingEntityExtractor``                              | local Duckling (no server)             |
| ``EntitySynonymMapper``                                  | synonym mapping                        |
| ``FallbackClassifier``                                   | Rasa's fallback rule                   |
| ``ResponseSelector``                                     | retrieval-intent response selector     |

Dense featurizers (``SpacyFeaturizer``, ``LanguageModelFeaturizer``, ...) need models we
do not ship; the sentence embedding is chosen by the classifier's ``embeddings`` option
(``minilm`` | ``static`` | ``none``). An empty pipeline means our defaults (all of the above).
Its ``embedding_weight`` (the embedding block beside the n-grams) and ``similarity_weight``
(how much a message unlike its intent's examples loses confidence, :mod:`bot.nlu.typicality`)
default per embeddings kind (``DEFAULT_EMBEDDING_WEIGHTS``, ``DEFAULT_SIMILARITY_WEIGHTS``).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.config import BotConfig, ComponentConfig
from bot.nlu.classifier import Model
from bot.nlu.fallback import DEFAULT_AMBIGUITY_THRESHOLD, DEFAULT_THRESHOLD, FallbackClassifier
from bot.nlu.featurizers import VectorizerOptions

log = logging.getLogger(__name__)

Embeddings = Literal["minilm", "static", "none"]
# Chosen by measurement (held-out intent accuracy, mean of 3 stratified 80/20 splits of the
# helpdesk-assistant and financial-demo bots; BANKING77 test set): n-grams only 0.875 / 0.908,
# static 0.917 / 0.918, MiniLM 0.916 / 0.931. The static model matches MiniLM on chat-bot
# sized data at ~1 ms per parse; MiniLM costs 6-13 ms per new message (more on a busy machine).
DEFAULT_EMBEDDINGS: Embeddings = "static"
# The embedding block's weight beside the (each L2-normalised) n-gram blocks. MiniLM's vectors
# carry more than the static ones: weight 2 gave +0.3 points on BANKING77 (5-fold CV of its
# training set, 92.68 -> 92.96) and +0.3 on CLINC150's validation split (96.5 -> 96.8); for
# the static vectors a heavier block measured worse (CLINC150 validation 94.60 vs 94.90).
DEFAULT_EMBEDDING_WEIGHTS: dict[str, float] = {"minilm": 2.0, "static": 1.0, "none": 0.0}
# How strongly a message far from its intent's centroid loses confidence (bot.nlu.typicality;
# 0: off). MiniLM: on CLINC150's validation split, at 90% out-of-scope recall, in-scope accuracy
# 94.8 with it vs 91.8 without (on its test split the gain is smaller: AUROC 0.965 -> 0.973).
# Off for the static vectors: there the centroid similarity
# separates out-of-scope queries worse than the confidence does (AUROC 0.912 vs 0.957), and on
# the demo bot's held-out split (no out-of-scope rows, a fallback counts as wrong) it cost 7
# points of accuracy (0.736 -> 0.661); MiniLM's cost there is 2 points (0.771 -> 0.749).
DEFAULT_SIMILARITY_WEIGHTS: dict[str, float] = {"minilm": 10.0, "static": 0.0, "none": 0.0}
INTENT_CLASSIFIERS = {
    "DIETClassifier",
    "SklearnIntentClassifier",
    "LogisticRegressionClassifier",
    "MitieIntentClassifier",
    "KeywordIntentClassifier",
}
DENSE_FEATURIZERS = {
    "SpacyFeaturizer",
    "LanguageModelFeaturizer",
    "ConveRTFeaturizer",
    "MitieFeaturizer",
    "SpacyNLP",
    "MitieNLP",
    "HFTransformersNLP",
}
UNSUPPORTED_EXTRACTORS = {"SpacyEntityExtractor", "MitieEntityExtractor"}
DEFAULT_VECTORIZERS = [
    VectorizerOptions(analyzer="word", min_ngram=1, max_ngram=2),
    VectorizerOptions(analyzer="char_wb", min_ngram=1, max_ngram=4),
]


class ClassifierOptions(BaseModel):
    """The intent classifier: which Rasa component it stands for and its own knobs."""

    name: str = "DIETClassifier"
    model: Model = "svm"
    C: float = 1.0
    embeddings: Embeddings = DEFAULT_EMBEDDINGS
    embedding_weight: float | None = None  # None: DEFAULT_EMBEDDING_WEIGHTS[embeddings]
    similarity_weight: float | None = None  # None: DEFAULT_SIMILARITY_WEIGHTS[embeddings]
    ranking_length: int = 10
    random_seed: int = 42

    @property
    def block_weight(self) -> float:
        """The embedding block's weight: as configured, else the default for the embeddings."""
        if self.embedding_weight is not None:
            return self.embedding_weight
        return DEFAULT_EMBEDDING_WEIGHTS[self.embeddings]

    @property
    def typicality_weight(self) -> float:
        """The typicality factor's weight: as configured, else the default for the embeddings."""
        if self.similarity_weight is not None:
            return self.similarity_weight
        return DEFAULT_SIMILARITY_WEIGHTS[self.embeddings]


class RegexExtractorOptions(BaseModel):
    """RegexEntityExtractor's options, with Rasa's defaults."""

    use_lookup_tables: bool = True
    use_regexes: bool = True
    use_word_boundaries: bool = True
    case_sensitive: bool = False


class DucklingOptions(BaseModel):
    """DucklingEntityExtractor's options that matter locally (``url`` is ignored: no server)."""

    dimensions: list[str] | None = None  # None: every supported dimension
    timezone: str | None = None


class CRFOptions(BaseModel):
    """The CRF entity extractor's options (Rasa's ``L1_c``, ``L2_c``, ``max_iterations``)."""

    name: str = "CRFEntityExtractor"  # reported as the entities' ``extractor``
    c1: float = 0.1
    c2: float = 0.1
    max_iterations: int = 50


class PipelineSpec(BaseModel):
    """What the NLU pipeline runs, resolved from ``config.yml``."""

    language: str = "en"
    languages: list[str] = Field(default_factory=list)
    vectorizers: list[VectorizerOptions] = Field(default_factory=lambda: list(DEFAULT_VECTORIZERS))
    pattern_features: bool = True
    classifier: ClassifierOptions = Field(default_factory=ClassifierOptions)
    fallback: FallbackClassifier | None = None
    crf: CRFOptions | None = None
    regex_extractor: RegexExtractorOptions | None = None
    duckling: DucklingOptions | None = None
    synonyms: bool = True

    @classmethod
    def from_config(cls, config: BotConfig) -> PipelineSpec:
        """Map the configured Rasa components; an empty pipeline gives every default component."""
        if not config.pipeline:
            return cls(
                language=config.language,
                languages=config.languages,
                fallback=FallbackClassifier(
                    threshold=DEFAULT_THRESHOLD, ambiguity_threshold=DEFAULT_AMBIGUITY_THRESHOLD
                ),
                crf=CRFOptions(),
                regex_extractor=RegexExtractorOptions(),
                duckling=DucklingOptions(),
            )
        spec = cls(
            language=config.language,
            languages=config.languages,
            vectorizers=[],
            pattern_features=False,
            synonyms=False,
        )
        for component in config.pipeline:
            spec._add(component)
        if not spec.vectorizers:
            spec.vectorizers = list(DEFAULT_VECTORIZERS)
        return spec

    def _add(self, c: ComponentConfig) -> None:
        name = c.name
        if name.endswith("Tokenizer") or name in DENSE_FEATURIZERS or name == "LexicalSyntacticFeaturizer":
            return
        if name == "CountVectorsFeaturizer":
            self.vectorizers.append(VectorizerOptions.model_validate(c.params))
        elif name == "RegexFeaturizer":
            self.pattern_features = True
        elif name in INTENT_CLASSIFIERS:
            keys = ("model", "C", "embeddings", "embedding_weight", "similarity_weight", "ranking_length")
            options: dict[str, Any] = {k: c.params[k] for k in keys if k in c.params}
            if "random_seed" in c.params:
                options["random_seed"] = c.params["random_seed"]
            self.classifier = ClassifierOptions(name=name, **options)
            if name == "DIETClassifier" and c.get("entity_recognition", True) and self.crf is None:
                self.crf = CRFOptions(name=name)
        elif name == "CRFEntityExtractor":
            self.crf = CRFOptions(
                name=name,
                c1=c.get("L1_c", 0.1),
                c2=c.get("L2_c", 0.1),
                max_iterations=c.get("max_iterations", 50),
            )
        elif name == "RegexEntityExtractor":
            self.regex_extractor = RegexExtractorOptions.model_validate(c.params)
        elif name == "DucklingEntityExtractor":
            self.duckling = DucklingOptions(dimensions=c.get("dimensions"), timezone=c.get("timezone"))
        elif name == "EntitySynonymMapper":
            self.synonyms = True
        elif name == "FallbackClassifier":
            self.fallback = FallbackClassifier(
                threshold=c.get("threshold", DEFAULT_THRESHOLD),
                ambiguity_threshold=c.get("ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD),
            )
        elif name == "ResponseSelector":
            pass  # retrieval intents always get a selector (see pipeline)
        elif name in UNSUPPORTED_EXTRACTORS:
            log.info("%s has no local model; annotate those entities so the CRF learns them", name)
        else:
            log.info("NLU component %s is not implemented; ignored", name)
