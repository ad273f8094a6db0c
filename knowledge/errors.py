"""Errors of the knowledge base, in the project's hierarchy (:mod:`bot.errors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import ConciergeError

if TYPE_CHECKING:
    from knowledge.golden import GoldenResult


class ArticleNotFound(ConciergeError):
    """No article (or no such version of it) with this id."""


class ArticleConflict(ConciergeError):
    """The change contradicts the article's state (e.g. creating an id that exists)."""


class GoldenRefused(ConciergeError):
    """A golden question that cannot be added as it is (e.g. in a language the bot does not speak)."""


class GoldenRegression(ConciergeError):
    """A change was refused because golden questions that passed would fail after it."""

    def __init__(self, article_id: str, failures: list[GoldenResult]) -> None:
        self.article_id = article_id
        self.failures = failures
        listed = "; ".join(_describe(f) for f in failures)
        super().__init__(
            f"change to {article_id!r} refused: {len(failures)} golden question(s) would fail: {listed}"
        )


def _describe(failure: GoldenResult) -> str:
    """One refused golden question: the wrong article, or the facts its answer lost."""
    if not failure.article_ok:
        said = f"expected {failure.expect or 'no answer'}, got {failure.got or 'no answer'}"
    else:
        said = f"answered by {failure.got or 'no answer'}"
    lost = failure.lost_facts()
    if lost:
        said += ", lost fact(s): " + ", ".join(f"{f.fact!r} ({f.status})" for f in lost)
    return f"{failure.question!r} {said}"
