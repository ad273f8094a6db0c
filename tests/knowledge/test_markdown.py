"""Articles as Markdown with front matter: parsing, writing back, errors that name the place."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.errors import FormatError
from knowledge.markdown import dump_article, load_articles, parse_article
from knowledge.models import Article

GOOD = """---
id: winter-hours
title: Winter hours
category: locations
language: en
tags: [hours, winter]
valid_from: 2026-12-01
valid_to: 2027-01-07
answer: We close at 18:00 in winter.
---
## Hours

We close at 18:00.
"""


def test_parses_front_matter_and_body() -> None:
    article = parse_article(GOOD, "winter.md")
    assert article.id == "winter-hours"
    assert article.tags == ["hours", "winter"]
    assert article.valid_from == date(2026, 12, 1)
    assert article.answer == "We close at 18:00 in winter."
    assert article.body.startswith("## Hours")
    assert article.is_valid_on(date(2026, 12, 24))
    assert not article.is_valid_on(date(2027, 2, 1))


def test_dump_then_parse_gives_the_same_article() -> None:
    article = parse_article(GOOD, "winter.md")
    again = parse_article(dump_article(article), "again.md")
    assert again == article
    assert again.content_hash() == article.content_hash()


def test_content_hash_changes_with_content() -> None:
    article = parse_article(GOOD, "winter.md")
    assert article.model_copy(update={"body": "changed"}).content_hash() != article.content_hash()


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("no front matter", "must start with '---'", 1),
        ("---\nid: x1x\n", "not closed", 1),
        ("---\nid: abc\ntitle: [unclosed\n---\nbody", "invalid YAML", None),
        ("---\ntitle: No id\n---\nbody", "'id'", 2),
        ("---\nid: bad id!\ntitle: t\n---\nbody", "'id'", 2),
    ],
)
def test_malformed_articles_name_file_and_problem(text: str, message: str, line: int | None) -> None:
    with pytest.raises(FormatError) as caught:
        parse_article(text, "data/knowledge/bad.md")
    assert caught.value.path == "data/knowledge/bad.md"
    assert message in str(caught.value)
    if line is not None:
        assert caught.value.line == line


def test_duplicate_ids_in_a_directory_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.md").write_text(GOOD)
    with pytest.raises(FormatError, match="already used"):
        load_articles(tmp_path)


def test_demo_knowledge_base_is_complete(demo_articles: list[Article]) -> None:
    by_id = {a.id: a for a in demo_articles}
    languages = {a.language for a in demo_articles}
    assert languages == {"en", "pl", "uk", "ru"}
    assert 25 <= sum(a.language == "en" for a in demo_articles) <= 40
    categories = {a.category for a in demo_articles}
    assert {"services", "policies", "aftercare", "memberships", "gift-cards", "locations"} <= categories
    translations = [a for a in demo_articles if a.language != "en"]
    assert len(translations) >= 12
    for t in translations:
        assert t.translation_of in by_id, f"{t.id} translates a missing article"
        assert by_id[t.translation_of].language == "en"
    # every language has the same articles translated: a Russian question about one gets
    # the Russian article, as a Polish or Ukrainian one does
    translated = {
        lang: {t.translation_of for t in translations if t.language == lang} for lang in ("pl", "uk", "ru")
    }
    assert translated["ru"] == translated["uk"] == translated["pl"]
    assert all(a.answer for a in demo_articles), "every demo article has a curated answer"
