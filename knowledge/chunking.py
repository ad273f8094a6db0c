"""Split articles into retrievable chunks.

Sections (Markdown headings) are kept together where they fit; long sections are split
at paragraph, then sentence boundaries. A curated answer becomes its own first chunk:
it is the densest statement of what the article answers.
"""

from __future__ import annotations

import re

from knowledge.models import Article, Chunk

MAX_CHARS = 700
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sections(body: str) -> list[tuple[str | None, str]]:
    sections: list[tuple[str | None, str]] = []
    heading: str | None = None
    lines: list[str] = []
    for line in body.splitlines():
        match = _HEADING.match(line.strip())
        if match:
            if "\n".join(lines).strip():
                sections.append((heading, "\n".join(lines).strip()))
            heading, lines = match.group(1).strip(), []
        else:
            lines.append(line)
    if "\n".join(lines).strip():
        sections.append((heading, "\n".join(lines).strip()))
    return sections


def _pieces(text: str, max_chars: int) -> list[str]:
    """Greedy packing of paragraphs (then sentences) into pieces of at most ``max_chars``."""
    units: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if len(para) <= max_chars:
            units.append(para)
        else:
            units.extend(s.strip() for s in _SENTENCE_END.split(para) if s.strip())
    pieces: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + len(unit) + 2 > max_chars:
            pieces.append(current)
            current = unit
        else:
            current = f"{current}\n\n{unit}" if current else unit
    if current:
        pieces.append(current)
    return pieces


def chunk_article(article: Article, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """The article's chunks, with stable ids ``<article>#<n>`` in reading order."""
    raw: list[tuple[str | None, str]] = []
    if article.answer:
        raw.append((None, article.answer.strip()))
    for heading, text in _sections(article.body):
        raw.extend((heading, piece) for piece in _pieces(text, max_chars))
    if not raw:
        raw.append((None, article.title))
    tags = f" ({', '.join(article.tags)})" if article.tags else ""
    chunks = []
    for index, (heading, text) in enumerate(raw):
        context = f"{article.title}{tags}" + (f" - {heading}" if heading else "")
        chunks.append(
            Chunk(
                id=f"{article.id}#{index}",
                article_id=article.id,
                index=index,
                section=heading,
                text=text,
                search_text=f"{context}\n{text}",
            )
        )
    return chunks
