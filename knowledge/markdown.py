"""Articles as Markdown files with YAML front matter (the format of ``data/knowledge/``).

::

    ---
    id: cancellation-policy
    title: Cancelling or rescheduling an appointment
    category: policies
    language: en
    tags: [cancel, reschedule]
    answer: You can cancel free of charge up to 24 hours before ...
    ---
    Body in Markdown.

A malformed file raises :class:`bot.errors.FormatError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.errors import FormatError
from knowledge.models import Article

FENCE = "---"


def parse_article(text: str, path: str = "<article>") -> Article:
    """Parse one article; the front matter must come first, between ``---`` lines."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != FENCE:
        raise FormatError(path, "an article must start with '---' and YAML front matter", line=1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    except StopIteration:
        raise FormatError(path, "front matter is not closed by a '---' line", line=1) from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None
        raise FormatError(
            path, f"invalid YAML front matter: {getattr(exc, 'problem', exc)}", line=line
        ) from None
    if not isinstance(meta, dict):
        raise FormatError(path, "front matter must be a mapping of keys to values", line=2)
    body = "\n".join(lines[end + 1 :]).strip()
    try:
        return Article.model_validate({**meta, "body": body})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise FormatError(path, f"front matter field {field!r}: {first['msg']}", line=2) from None


def dump_article(article: Article) -> str:
    """The Markdown file for an article (front matter + body); ``parse_article`` reads it back."""
    meta = article.model_dump(mode="json", exclude={"body"}, exclude_none=True)
    if not meta.get("tags"):
        meta.pop("tags", None)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100).strip()
    return f"{FENCE}\n{front}\n{FENCE}\n{article.body.strip()}\n"


def load_articles(directory: Path) -> list[Article]:
    """Every ``*.md`` article under ``directory`` (recursively), sorted by path.

    Two files with the same ``id`` are an error: ids are how answers cite sources and
    how golden questions name the expected article.
    """
    if not directory.is_dir():
        raise FormatError(str(directory), "knowledge directory not found")
    articles: list[Article] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        article = parse_article(path.read_text(encoding="utf-8"), str(path))
        if article.id in seen:
            raise FormatError(str(path), f"article id {article.id!r} already used by {seen[article.id]}")
        seen[article.id] = path
        articles.append(article)
    return articles
