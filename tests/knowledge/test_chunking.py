"""Chunking: a curated answer first, sections kept together, long sections split."""

from __future__ import annotations

from knowledge.chunking import chunk_article
from knowledge.models import Article


def test_curated_answer_is_the_first_chunk_and_sections_follow(article: Article) -> None:
    chunks = chunk_article(article)
    assert [c.id for c in chunks] == ["test-article#0", "test-article#1", "test-article#2"]
    assert chunks[0].text == article.answer
    assert chunks[1].section == "Towels" and "free" in chunks[1].text
    assert chunks[2].section == "Robes"
    # the title and tags travel with every chunk so it is findable on its own
    assert all(c.search_text.startswith("Test article about sauna towels (sauna, towels)") for c in chunks)
    assert "Robes" in chunks[2].search_text


def test_long_sections_are_split_below_the_limit() -> None:
    sentences = " ".join(f"Sentence number {i} talks about lashes." for i in range(80))
    article = Article(id="long-one", title="Long", body=f"## Part\n\n{sentences}")
    chunks = chunk_article(article, max_chars=300)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert " ".join(c.text for c in chunks).count("Sentence number") == 80


def test_chunk_ids_and_hashes_are_stable() -> None:
    article = Article(id="stable", title="Stable", body="One.\n\nTwo.")
    first, second = chunk_article(article), chunk_article(article)
    assert [c.id for c in first] == [c.id for c in second]
    assert [c.hash() for c in first] == [c.hash() for c in second]
