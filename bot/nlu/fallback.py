"""Rasa's FallbackClassifier: predict ``nlu_fallback`` when the classifier is unsure.

Same rule as rasa/nlu/classifiers/fallback_classifier.py: the top intent's confidence
below ``threshold``, or (``ambiguity_threshold`` set) the top two closer than it, makes
the intent ``nlu_fallback`` with confidence equal to the threshold; the original
ranking is kept after it in ``intent_ranking``.
"""

from __future__ import annotations

from pydantic import BaseModel

from bot.events import IntentPrediction

NLU_FALLBACK = "nlu_fallback"
DEFAULT_THRESHOLD = 0.3
DEFAULT_AMBIGUITY_THRESHOLD = 0.1


class FallbackClassifier(BaseModel):
    """The thresholds from ``config.yml``."""

    threshold: float = DEFAULT_THRESHOLD
    ambiguity_threshold: float | None = DEFAULT_AMBIGUITY_THRESHOLD

    def should_fallback(self, ranking: list[IntentPrediction]) -> bool:
        """Whether this ranking (best first) is too unsure or too ambiguous."""
        if not ranking:
            return False
        if ranking[0].confidence < self.threshold:
            return True
        if self.ambiguity_threshold is not None and len(ranking) >= 2:
            return ranking[0].confidence - ranking[1].confidence < self.ambiguity_threshold
        return False

    def apply(
        self, intent: IntentPrediction, ranking: list[IntentPrediction]
    ) -> tuple[IntentPrediction, list[IntentPrediction]]:
        """The (intent, ranking) after the fallback rule."""
        if not self.should_fallback(ranking):
            return intent, ranking
        fallback = IntentPrediction(name=NLU_FALLBACK, confidence=self.threshold)
        return fallback, [fallback.model_copy(), *ranking]
