"""Rasa's FallbackClassifier rule: threshold and ambiguity threshold."""

from __future__ import annotations

from bot.events import IntentPrediction
from bot.nlu.fallback import NLU_FALLBACK, FallbackClassifier


def _ranking(*pairs: tuple[str, float]) -> list[IntentPrediction]:
    return [IntentPrediction(name=n, confidence=c) for n, c in pairs]


def test_confident_prediction_passes_through() -> None:
    ranking = _ranking(("greet", 0.9), ("goodbye", 0.05))
    intent, out = FallbackClassifier(threshold=0.7).apply(ranking[0], ranking)
    assert intent.name == "greet"
    assert out == ranking


def test_below_threshold_becomes_nlu_fallback_with_threshold_confidence() -> None:
    ranking = _ranking(("greet", 0.6), ("goodbye", 0.3))
    intent, out = FallbackClassifier(threshold=0.7, ambiguity_threshold=None).apply(ranking[0], ranking)
    assert (intent.name, intent.confidence) == (NLU_FALLBACK, 0.7)
    assert [r.name for r in out] == [NLU_FALLBACK, "greet", "goodbye"]
    assert out[1:] == ranking


def test_ambiguous_top_two_fall_back() -> None:
    ranking = _ranking(("book", 0.48), ("cancel", 0.45))
    rule = FallbackClassifier(threshold=0.3, ambiguity_threshold=0.1)
    intent, out = rule.apply(ranking[0], ranking)
    assert intent.name == NLU_FALLBACK and intent.confidence == 0.3
    assert out[1:] == ranking


def test_ambiguity_check_can_be_disabled() -> None:
    ranking = _ranking(("book", 0.48), ("cancel", 0.45))
    rule = FallbackClassifier(threshold=0.3, ambiguity_threshold=None)
    assert rule.apply(ranking[0], ranking)[0].name == "book"


def test_rasa_defaults() -> None:
    rule = FallbackClassifier()
    assert (rule.threshold, rule.ambiguity_threshold) == (0.3, 0.1)
    assert not rule.should_fallback([])
