"""What training produces: every fitted component plus the vocabularies parsing needs.

One picklable object, so ``NLUPipeline.save`` is one file; runtime pieces that are cheap
to rebuild (tokenizers, language detector, Duckling) are not part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain import DEFAULT_INTENTS, Domain
from bot.nlu.classifier import CalibratedLinearClassifier
from bot.nlu.entities import CRFEntityExtractor
from bot.nlu.featurizers import Featurizer
from bot.nlu.patterns import PatternSet
from bot.nlu.spec import PipelineSpec
from bot.nlu.vocabulary import Vocabulary
from bot.training_data import NLUData


@dataclass
class TrainedNLU:
    """The trained state of an NLU pipeline."""

    spec: PipelineSpec
    featurizer: Featurizer
    patterns: PatternSet
    entity_patterns: PatternSet
    intents: CalibratedLinearClassifier
    selector: CalibratedLinearClassifier | None
    crf: CRFEntityExtractor | None
    retrieval_intents: list[str]
    entity_names: list[str]
    synonyms: dict[str, str]
    known_intents: list[str]
    known_entities: list[str] | None  # None: no domain, so payload entities are not checked
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    train_seconds: float = 0.0
    # The classifier's training words with the annotated names taken out, lower-cased: a
    # capitalised word outside them may be a name (bot.nlu.entities.names). None in models
    # saved before it existed and in bots without a client_name entity.
    known_words: Vocabulary | None = None

    @classmethod
    def build(
        cls,
        spec: PipelineSpec,
        data: NLUData,
        domain: Domain | None,
        featurizer: Featurizer,
        patterns: PatternSet,
        intents: CalibratedLinearClassifier,
        selector: CalibratedLinearClassifier | None,
        crf: CRFEntityExtractor | None,
        train_seconds: float,
    ) -> TrainedNLU:
        """Collect the fitted parts and derive the vocabularies from data and domain."""
        annotated = {span.entity for e in data.examples for span in e.entities}
        domain_entities = set(domain.entity_names) if domain else set()
        entity_names = sorted(annotated | domain_entities)
        extractor = spec.regex_extractor
        entity_patterns = PatternSet(
            [(r.name, r.pattern) for r in data.regexes] if extractor is None or extractor.use_regexes else [],
            data.lookups if extractor is None or extractor.use_lookup_tables else {},
            case_sensitive=bool(extractor and extractor.case_sensitive),
            word_boundaries=extractor.use_word_boundaries if extractor else True,
        )
        intent_names = list(domain.intent_names) if domain else list(DEFAULT_INTENTS)
        known_intents = list(dict.fromkeys([*intent_names, *data.intents]))
        responses: dict[str, list[dict[str, Any]]] = {}
        if domain:
            for name, variations in domain.responses.items():
                if "/" in name:
                    responses[name] = [v.model_dump(exclude_defaults=True) for v in variations]
        return cls(
            spec=spec,
            featurizer=featurizer,
            patterns=patterns,
            entity_patterns=entity_patterns,
            intents=intents,
            selector=selector,
            crf=crf,
            retrieval_intents=sorted({e.intent for e in data.examples if e.response_key}),
            entity_names=entity_names,
            synonyms=dict(data.synonyms),
            known_intents=known_intents,
            known_entities=sorted(annotated | domain_entities) if domain else None,
            responses=responses,
            train_seconds=train_seconds,
        )
