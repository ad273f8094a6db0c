"""BM25 and the coverage score: folding, stemming, ranking, filters."""

from __future__ import annotations

import numpy as np

from knowledge.lexical import LexicalIndex, tokenize


def test_tokens_are_folded_stemmed_and_stop_words_dropped() -> None:
    assert tokenize("Cancellation of my appointments") == tokenize("cancelled appointment")
    assert tokenize("Spóźnienie") == tokenize("spoznienie")
    assert "the" not in tokenize("the lateness policy")
    assert tokenize("lateness") == tokenize("late")
    assert "15" in tokenize("15 minutes")


def test_bm25_ranks_the_matching_text_first_and_coverage_is_bounded() -> None:
    index = LexicalIndex()
    index.build(
        ["free cancellation up to 24 hours", "lateness grace period 15 minutes", "gift cards valid 12 months"]
    )
    hits = index.search("what if I am 15 minutes late", 3)
    assert hits[0].row == 1
    assert 0 < hits[0].coverage <= 1
    assert index.search("cancel my appointment", 3)[0].row == 0
    assert index.search("tattoo", 3) == []


def test_unknown_words_lower_coverage() -> None:
    index = LexicalIndex()
    index.build(["gel removal costs 60 PLN", "lash lift and tint"])
    _, known = index.scores("gel removal")
    _, half_known = index.scores("tattoo removal")
    assert known[0] == 1.0
    assert 0 < half_known[0] < 0.5


def test_mask_excludes_rows() -> None:
    index = LexicalIndex()
    index.build(["gift card", "gift card in polish"])
    allowed = np.array([False, True])
    assert [h.row for h in index.search("gift card", 5, allowed)] == [1]
