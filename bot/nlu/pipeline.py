"""The NLU pipeline: text -> Rasa's ``parse_data`` (intent, ranking, entities, language, response selector).

``NLUPipeline.train`` builds it from the project's NLU data and ``config.yml`` (see
:mod:`bot.nlu.spec` for how Rasa component names map onto our components);
:meth:`NLUPipeline.parse` is synchronous CPU work, safe to call from several threads at
once (the engine runs it via ``asyncio.to_thread``); ``save``/``load`` round-trip to a
directory and give identical parses. A message's cost is bounded whatever its length:
only a window of it is understood (:mod:`bot.nlu.bounds`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from bot.config import BotConfig
from bot.domain import Domain
from bot.errors import ConfigError
from bot.events import EntityValue, IntentPrediction, ParseData
from bot.nlu import bounds
from bot.nlu.classifier import CalibratedLinearClassifier
from bot.nlu.embeddings import SentenceEncoder, StaticEncoder, TextEncoder
from bot.nlu.entities import (
    CRFEntityExtractor,
    DucklingExtractor,
    EntitySynonymMapper,
    RegexEntityExtractor,
    resolve_overlaps,
)
from bot.nlu.entities.names import ENTITY as NAME_ENTITY
from bot.nlu.entities.names import PLACEHOLDER, NameExtractor, without
from bot.nlu.featurizers import Featurizer, patterns_for
from bot.nlu.language import LanguageDetector
from bot.nlu.model import TrainedNLU
from bot.nlu.patterns import PatternSet
from bot.nlu.payload import parse_payload, selector_output
from bot.nlu.spec import PipelineSpec
from bot.nlu.tokenizer import Tokenizer
from bot.nlu.vocabulary import Vocabulary
from bot.training_data import NLUData, NLUExample

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
FORMAT_VERSION = 1
_WARM_UP = {"en": "tomorrow at 3pm", "pl": "jutro o 15:00", "uk": "завтра о 15:00", "ru": "завтра в 15:00"}
_LETTERS = re.compile(r"[^\W\d_]+")
# the words of "anna.kowalska@example.com" are no vocabulary: Anna stays a name
_ADDRESS = re.compile(r"@|://|www\.")
MIN_LANGUAGE_LETTERS = 4  # a message of fewer letters once names are out is judged with them


def _without_names(example: NLUExample) -> str:
    """The example's text with its annotated ``client_name`` values cut out."""
    spans = [(e.start, e.end) for e in example.entities if e.entity == NAME_ENTITY]
    return without(example.text, spans, PLACEHOLDER)


def make_encoder(kind: str, shared: TextEncoder | None = None) -> TextEncoder | None:
    """The encoder for ``kind``: ``shared`` when it is of that kind, else a new one."""
    if kind == "none":
        return None
    if shared is not None and shared.kind == kind:
        return shared
    if kind == "minilm":
        return SentenceEncoder()
    if kind == "static":
        return StaticEncoder.distilled()
    raise ConfigError(f"unknown embeddings {kind!r}: use minilm, static or none")


class NLUPipeline:
    """A trained NLU pipeline plus the runtime pieces (tokenizers, detectors) around it."""

    def __init__(self, model: TrainedNLU, encoder: TextEncoder | None) -> None:
        self.model = model
        self.encoder = encoder
        spec = model.spec
        self.tokenizer = Tokenizer(spec.language)
        self.languages = LanguageDetector(spec.language, spec.languages)
        self._regex = (
            RegexEntityExtractor(model.entity_patterns, set(model.entity_names))
            if spec.regex_extractor
            else None
        )
        self._duckling = (
            DucklingExtractor(spec.duckling.dimensions, spec.duckling.timezone) if spec.duckling else None
        )
        self._synonyms = EntitySynonymMapper(model.synonyms) if spec.synonyms else None
        # a bot whose data or domain knows the client_name entity gets names recognised
        # beyond the CRF's annotations, and kept out of what the classifier and the
        # language detector read (bot.nlu.entities.names)
        self._names = NameExtractor(model.known_words) if NAME_ENTITY in model.entity_names else None
        # Load the lazy parts now (spaCy rules, dateparser locales, the language model), not on
        # a client's first message.
        self.languages.detect("warming up the language detector")
        for language in self.languages.languages:
            self.tokenizer.tokenize("warm up", language)
            if self._duckling:
                self._duckling.extract(_WARM_UP.get(language, "2026-01-01"), language)

    # ---- training ------------------------------------------------------------
    @classmethod
    def train(
        cls,
        data: NLUData,
        config: BotConfig,
        domain: Domain | None = None,
        progress: Progress | None = None,
        encoder: TextEncoder | None = None,
    ) -> NLUPipeline:
        """Train every component from ``data`` as ``config.yml`` says.

        Pass ``encoder`` to share an already loaded sentence encoder (it is used when its
        kind matches the configured ``embeddings``).
        """
        report = progress or (lambda stage, fraction: None)
        started = time.perf_counter()
        if not data.examples:
            raise ConfigError("no NLU training examples: add intents to data/nlu.yml")
        spec = PipelineSpec.from_config(config)
        report("nlu: loading the sentence encoder", 0.0)
        encoder = make_encoder(spec.classifier.embeddings, encoder)
        # The classifier reads a placeholder for every annotated name, as it does for the
        # names parsing finds: which name is given says nothing about the intent.
        texts = [_without_names(e) for e in data.examples]
        patterns = PatternSet.from_data(data)
        matches = patterns_for(texts, patterns)
        report("nlu: featurizing", 0.1)
        embeddings = encoder.encode(texts) if encoder else None
        featurizer = Featurizer(
            spec.vectorizers, patterns.names if spec.pattern_features else [], spec.classifier.block_weight
        )
        featurizer.fit(texts)
        X = featurizer.transform(texts, matches, embeddings)
        report("nlu: training the intent classifier", 0.3)
        options = spec.classifier
        intents = CalibratedLinearClassifier(
            options.model, options.C, options.random_seed, options.typicality_weight
        )
        intents.fit(X, [e.intent for e in data.examples], texts, embeddings)
        retrieval = [i for i, e in enumerate(data.examples) if e.response_key]
        selector = None
        if retrieval:
            report("nlu: training the response selector", 0.5)
            selector = CalibratedLinearClassifier(options.model, options.C, options.random_seed)
            selector.fit(
                X[retrieval], [data.examples[i].full_intent for i in retrieval], [texts[i] for i in retrieval]
            )
        crf = None
        if spec.crf:
            report("nlu: training the entity extractor", 0.6)
            tokenizer = Tokenizer(spec.language)
            crf = CRFEntityExtractor(
                spec.crf.name, c1=spec.crf.c1, c2=spec.crf.c2, max_iterations=spec.crf.max_iterations
            )
            crf.train(
                [
                    (e.text, tokenizer.tokenize(e.text, e.language or spec.language), m, e.entities)
                    for e, m in zip(
                        data.examples, patterns_for([e.text for e in data.examples], patterns), strict=True
                    )
                ]
            )
            if not crf.trained:
                crf = None
        model = TrainedNLU.build(
            spec, data, domain, featurizer, patterns, intents, selector, crf, time.perf_counter() - started
        )
        if NAME_ENTITY in model.entity_names:
            model.known_words = Vocabulary(
                {
                    w.lower()
                    for t in texts
                    for token in t.split()
                    if not _ADDRESS.search(token)
                    for w in _LETTERS.findall(token)
                }
                - {PLACEHOLDER.lower()}
            )
        report("nlu: done", 1.0)
        log.info("NLU trained on %d examples in %.1fs", len(texts), model.train_seconds)
        return cls(model, encoder)

    # ---- parsing -------------------------------------------------------------
    @property
    def intents(self) -> list[str]:
        """Intents the classifier can predict."""
        return list(self.model.intents.labels)

    def canonical_value(self, value: Any) -> Any:
        """``value`` as the synonym mapper would report it (for comparing with annotations)."""
        if self._synonyms is None or not isinstance(value, str):
            return value
        return self._synonyms.synonyms.get(value.lower(), value)

    def parse(self, text: str, *, reference_time: datetime | None = None) -> ParseData:
        """Understand one message (``reference_time`` anchors relative dates; default now)."""
        return self.parse_batch([text], reference_time=reference_time)[0]

    def parse_batch(self, texts: list[str], *, reference_time: datetime | None = None) -> list[ParseData]:
        """Understand many messages at once (featurized and classified as one batch)."""
        results: list[ParseData | None] = [self._payload(t) for t in texts]
        todo = [i for i, r in enumerate(results) if r is None and texts[i].strip()]
        for i, t in enumerate(texts):
            if results[i] is None and not t.strip():
                results[i] = ParseData(
                    text=t,
                    intent=IntentPrediction(name=None, confidence=0.0),
                    language=self.model.spec.language,
                )
        if todo:
            batch = [texts[i] for i in todo]
            for i, parse in zip(todo, self._classify(batch, reference_time), strict=True):
                results[i] = parse
        return [r for r in results if r is not None]

    def _payload(self, text: str) -> ParseData | None:
        m = self.model
        parse = parse_payload(text, m.known_intents, m.known_entities, m.retrieval_intents, m.responses)
        if parse is not None:
            parse.language = self.model.spec.language
        return parse

    def _classify(self, texts: list[str], reference_time: datetime | None) -> list[ParseData]:
        m = self.model
        # a bounded window of each message (bot.nlu.bounds): one message's cost is capped
        windows = [bounds.window(t) for t in texts]
        short = [self._without_names(bounds.for_classifier(t)) for t in texts]
        matches = patterns_for(windows, m.patterns)
        embeddings = self.encoder.encode(short) if self.encoder else None
        X = m.featurizer.transform(short, matches, embeddings)
        rankings = m.intents.rank(X, short, m.spec.classifier.ranking_length, embeddings)
        selections = self._select(X, short) if m.selector else [None] * len(texts)
        out: list[ParseData] = []
        for text, seen, found, ranked, selected in zip(
            texts, windows, matches, rankings, selections, strict=True
        ):
            language = self._language(seen)
            ranking = [IntentPrediction(name=name, confidence=c) for name, c in ranked]
            intent = ranking[0].model_copy() if ranking else IntentPrediction(name=None, confidence=0.0)
            if m.spec.fallback:
                intent, ranking = m.spec.fallback.apply(intent, ranking)
            out.append(
                ParseData(
                    text=text,
                    intent=intent,
                    intent_ranking=ranking,
                    language=language,
                    entities=self._entities(seen, language, found, reference_time, intent.name),
                    response_selector=selected,
                )
            )
        return out

    def _without_names(self, text: str) -> str:
        return without(text, self._names.spans(text), PLACEHOLDER) if self._names else text

    def _language(self, text: str) -> str:
        # "my name is Anna Kowalska" is English whatever the surname; a message that is
        # nothing but a name ("Оксана") still tells its script
        rest = without(text, self._names.spans(text)) if self._names else text
        enough = sum(len(w) for w in _LETTERS.findall(rest)) >= MIN_LANGUAGE_LETTERS
        return self.languages.detect(rest if enough else text)

    def _select(self, X: Any, texts: list[str]) -> list[dict[str, Any]]:
        m = self.model
        assert m.selector is not None
        proba = m.selector.predict_proba(X, texts)
        labels = m.selector.labels
        limit = m.spec.classifier.ranking_length
        out: list[dict[str, Any]] = []
        for row in proba:
            order = np.argsort(-row, kind="stable")
            default = [(labels[i], float(row[i])) for i in order[:limit]]
            per_intent: dict[str, list[tuple[str, float]]] = {}
            for name in m.retrieval_intents:
                keys = [i for i in order if labels[i].startswith(name + "/")]
                total = float(row[keys].sum()) or 1.0
                per_intent[name] = [(labels[i], float(row[i]) / total) for i in keys[:limit]]
            out.append(selector_output(m.retrieval_intents, per_intent, default, m.responses))
        return out

    def _entities(
        self,
        text: str,
        language: str,
        matches: list[Any],
        reference_time: datetime | None,
        intent: str | None = None,
    ) -> list[EntityValue]:
        found: list[EntityValue] = []
        if self._regex:
            found += self._regex.extract(text)
        if self.model.crf:
            found += self.model.crf.extract(text, self.tokenizer.tokenize(text, language), matches)
        if self._duckling:
            found += self._duckling.extract(text, language, reference_time)
        found = resolve_overlaps(found)
        if self._names:
            # the CRF learnt names from a few dozen examples; a word that cannot be one ("Bye") is not
            names = self._names
            found = [e for e in found if e.entity != NAME_ENTITY or names.is_name(str(e.value))]
            found = sorted(
                found + self._names.extract(text, intent, found), key=lambda e: (e.start or 0, e.end or 0)
            )
        return self._synonyms.apply(found) if self._synonyms else found

    # ---- persistence ---------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the trained model (and the static embedding model, if used) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.model, directory / "model.joblib", compress=3)
        if isinstance(self.encoder, StaticEncoder):
            self.encoder.save(directory / "static_encoder")
        meta = {
            "format": FORMAT_VERSION,
            "embeddings": self.model.spec.classifier.embeddings,
            "encoder_fingerprint": self.encoder.fingerprint if self.encoder else None,
            "intents": self.intents,
            "train_seconds": self.model.train_seconds,
        }
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path, encoder: TextEncoder | None = None) -> NLUPipeline:
        """Load a pipeline saved by :meth:`save`; ``encoder`` shares an already loaded one."""
        directory = Path(directory)
        meta_file = directory / "meta.json"
        if not meta_file.is_file():
            raise ConfigError(f"no NLU model in {directory}")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ConfigError(f"NLU model in {directory} has format {meta.get('format')}; retrain")
        model: TrainedNLU = joblib.load(directory / "model.joblib")
        kind = meta["embeddings"]
        wanted = meta.get("encoder_fingerprint")
        if encoder is not None and (encoder.kind != kind or encoder.fingerprint != wanted):
            encoder = None
        if encoder is None and kind == "static":
            encoder = StaticEncoder.from_directory(directory / "static_encoder")
        elif encoder is None:
            encoder = make_encoder(kind)
            if encoder is not None and encoder.fingerprint != wanted:
                log.warning("the sentence encoder differs from the one the NLU model was trained with")
        return cls(model, encoder)
