"""Words a model saw in training, forgiving one typo: what "unknown" means to the NLU.

The intent classifier's confidence shrinks with the share of a message's words it does not
know (:mod:`bot.nlu.classifier`), and the name finder takes a capitalised word the bot
never saw for a name (:mod:`bot.nlu.entities.names`); both ask one :class:`Vocabulary`.
"""

from __future__ import annotations


class Vocabulary:
    """Words seen in training, plus their one-deletion variants to forgive a single typo.

    A word is known if it was seen, or if deleting one letter from it or from a seen word
    makes them equal (SymSpell's trick for edit distance one: "helo", "helllo", "hlelo").

    Checking a word costs time linear in its length: a word more than one letter longer
    than the longest seen word cannot be one deletion away from any, so its deletions
    (``n`` strings of ``n - 1`` letters: quadratic) are never built.
    """

    def __init__(self, seen: set[str]) -> None:
        self.seen = frozenset(seen)
        self.near = frozenset(v for w in seen if len(w) >= 4 for v in _deletions(w))
        self.longest = max((len(w) for w in seen), default=0)

    def __setstate__(self, state: dict[str, object]) -> None:
        # Models pickled before ``longest`` existed load unchanged.
        self.__dict__.update(state)
        if "longest" not in state:
            self.longest = max((len(w) for w in self.seen), default=0)

    def knows(self, word: str, typos_from: int = 4) -> bool:
        """Whether ``word`` was seen in training, allowing one typo in words of ``typos_from``
        letters or more (four by default: "helo" is "hello")."""
        if word in self.seen:
            return True
        if len(word) < max(typos_from, 4) or word.isdigit():
            return word.isdigit()
        if len(word) > self.longest + 1:
            return False  # too long to be one typo away from any seen word
        return word in self.near or any(v in self.seen or v in self.near for v in _deletions(word))

    def coverage(self, tokens: set[str]) -> float:
        """Share of ``tokens`` known (1.0 for a message without words, e.g. an emoji)."""
        return sum(self.knows(t) for t in tokens) / len(tokens) if tokens else 1.0


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}
