"""What changed between two versions of an article, line by line and word by word.

The editor page shows the draft against the live version before an editor publishes. The
diff is computed here, on the server, as plain data: lines (equal, inserted, deleted, or
changed with word-level segments) and runs of unchanged lines folded into a "skip" with
their count. Nothing in it is HTML; the page builds it from text nodes, so an article's
``<script>`` is shown as the characters it is.

Only fields that changed are listed. Word-level diffs of very long lines are bounded
(:data:`MAX_WORD_TOKENS`): past that, the line is shown deleted and inserted whole. The
whole diff's work is bounded too (``SequenceMatcher`` is quadratic in repeated lines and
tokens, and a body may be 200,000 characters): past :data:`MAX_LINE_WORK` a field is shown
deleted and inserted whole, past :data:`MAX_PAIR_WORK` a block's lines are not paired.
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher
from typing import Literal

from pydantic import BaseModel

from knowledge.models import Article

#: unchanged lines kept around a change; longer runs are folded into one "skip" line
CONTEXT = 2
#: tokens of a line pair beyond which no word-level diff is tried (SequenceMatcher is quadratic)
MAX_WORD_TOKENS = 4_000

#: how alike (difflib ratio over tokens) a removed and an added line must be to show as one change
PAIR_RATIO = 0.5
#: removed x added lines in one block beyond which no pairing is tried
MAX_PAIRINGS = 2_500
#: a block's removed tokens x added tokens beyond which no pairing is tried (each pairing
#: compares token lists; without this, 50 x 50 long lines took minutes)
MAX_PAIR_WORK = MAX_WORD_TOKENS**2 // 4
#: pairs of equal lines (old x new) beyond which a field is not diffed line by line but shown
#: deleted and inserted whole (the line matcher visits every such pair: 10,000 repeated
#: lines took 14 s, a 200,000-character body of them would take half an hour)
MAX_LINE_WORK = 1_000_000

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")

#: the fields compared, in the order shown, with the label an editor reads
FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("answer", "Curated answer"),
    ("body", "Body"),
    ("category", "Category"),
    ("language", "Language"),
    ("tags", "Tags"),
    ("response_keys", "FAQ keys"),
    ("valid_from", "Valid from"),
    ("valid_to", "Valid to"),
    ("translation_of", "Translation of"),
)


class Segment(BaseModel):
    """A run of text in a line: kept, added or removed."""

    op: Literal["equal", "insert", "delete"]
    text: str


class DiffLine(BaseModel):
    """One line of a field's diff; ``old``/``new`` are 1-based line numbers in each version.

    ``change`` lines carry word-level segments; ``skip`` stands for ``skipped`` unchanged lines.
    """

    op: Literal["equal", "insert", "delete", "change", "skip"]
    old: int | None = None
    new: int | None = None
    segments: list[Segment] = []
    skipped: int = 0


class FieldDiff(BaseModel):
    """The diff of one field that changed."""

    field: str
    label: str
    lines: list[DiffLine]


class ArticleDiff(BaseModel):
    """Version ``target`` against ``base`` (None: nothing is live, so everything is new)."""

    article_id: str
    base_version: int | None
    target_version: int
    changed: bool
    fields: list[FieldDiff]


def _text(article: Article | None, field: str) -> str:
    if article is None:
        return ""
    value = getattr(article, field)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def word_segments(old: str, new: str) -> list[Segment]:
    """Word-level segments turning ``old`` into ``new`` (whitespace and punctuation are tokens)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) + len(b) > MAX_WORD_TOKENS:
        return [Segment(op="delete", text=old), Segment(op="insert", text=new)]
    segments: list[Segment] = []

    def add(op: Literal["equal", "insert", "delete"], tokens: list[str]) -> None:
        if not tokens:
            return
        text = "".join(tokens)
        if segments and segments[-1].op == op:
            segments[-1].text += text
        else:
            segments.append(Segment(op=op, text=text))

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            add("equal", a[i1:i2])
        else:
            add("delete", a[i1:i2])
            add("insert", b[j1:j2])
    return segments


def line_diff(old: str, new: str, context: int = CONTEXT) -> list[DiffLine]:
    """Lines of ``old`` against ``new``: replaced lines paired into word-level changes, long
    unchanged runs folded to ``context`` lines either side of a change."""
    a, b = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    in_new = Counter(b)
    if sum(in_new[line] for line in a) > MAX_LINE_WORK:  # too many repeated lines to match
        return [
            *(
                DiffLine(op="delete", old=i + 1, segments=[Segment(op="delete", text=t)])
                for i, t in enumerate(a)
            ),
            *(
                DiffLine(op="insert", new=j + 1, segments=[Segment(op="insert", text=t)])
                for j, t in enumerate(b)
            ),
        ]
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            run = [
                DiffLine(
                    op="equal", old=i1 + k + 1, new=j1 + k + 1, segments=[Segment(op="equal", text=a[i1 + k])]
                )
                for k in range(i2 - i1)
            ]
            lines.extend(_fold(run, context, first=not lines, last=i2 == len(a) and j2 == len(b)))
            continue
        lines.extend(_replaced(a, b, i1, i2, j1, j2))
    return lines


def _replaced(a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> list[DiffLine]:
    """A block of removed lines ``a[i1:i2]`` and added lines ``b[j1:j2]``: each removed line is
    paired, in order, with the most similar added line (ratio >= :data:`PAIR_RATIO`; any
    common word when one line replaces one line) as a
    word-level change; the rest are plain deletions and insertions."""
    out: list[DiffLine] = []
    j = j1
    pairing = (i2 - i1) * (j2 - j1) <= MAX_PAIRINGS and _tokens(a[i1:i2]) * _tokens(b[j1:j2]) <= MAX_PAIR_WORK
    for i in range(i1, i2):
        # one line replaced by one line (a title, a short answer): words in common are enough
        least = 1e-9 if (i2 - i1, j2 - j1) == (1, 1) else PAIR_RATIO
        match = _most_similar(a[i], b, j, j2, least) if pairing else None
        if match is None:
            out.append(DiffLine(op="delete", old=i + 1, segments=[Segment(op="delete", text=a[i])]))
            continue
        out.extend(
            DiffLine(op="insert", new=k + 1, segments=[Segment(op="insert", text=b[k])])
            for k in range(j, match)
        )
        out.append(DiffLine(op="change", old=i + 1, new=match + 1, segments=word_segments(a[i], b[match])))
        j = match + 1
    out.extend(
        DiffLine(op="insert", new=k + 1, segments=[Segment(op="insert", text=b[k])]) for k in range(j, j2)
    )
    return out


def _tokens(lines: list[str]) -> int:
    return sum(len(_TOKEN.findall(line)) for line in lines)


def _most_similar(line: str, b: list[str], start: int, end: int, least: float) -> int | None:
    tokens = _TOKEN.findall(line)
    best, found = least, None
    for k in range(start, end):
        other = _TOKEN.findall(b[k])
        if len(tokens) + len(other) > MAX_WORD_TOKENS:
            continue
        matcher = SequenceMatcher(None, tokens, other, autojunk=False)
        if matcher.real_quick_ratio() < best or matcher.quick_ratio() < best:
            continue
        ratio = matcher.ratio()
        if ratio >= best:
            best, found = ratio, k
    return found


def _fold(run: list[DiffLine], context: int, *, first: bool, last: bool) -> list[DiffLine]:
    """Keep ``context`` lines next to a change (none at the very start or end), fold the rest."""
    keep_head = 0 if first else context
    keep_tail = 0 if last else context
    if len(run) <= keep_head + keep_tail + 1:
        return run
    hidden = run[keep_head : len(run) - keep_tail]
    skip = DiffLine(op="skip", old=hidden[0].old, new=hidden[0].new, skipped=len(hidden))
    return [*run[:keep_head], skip, *run[len(run) - keep_tail :]]


def article_diff(
    article_id: str, base: Article | None, base_version: int | None, target: Article, target_version: int
) -> ArticleDiff:
    """The fields of ``target`` that differ from ``base``, each as a line/word diff."""
    fields: list[FieldDiff] = []
    for name, label in FIELDS:
        old, new = _text(base, name), _text(target, name)
        if old != new:
            fields.append(FieldDiff(field=name, label=label, lines=line_diff(old, new)))
    return ArticleDiff(
        article_id=article_id,
        base_version=base_version,
        target_version=target_version,
        changed=bool(fields),
        fields=fields,
    )
