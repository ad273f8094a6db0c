"""Agreement of automated quality scoring with people (issue 14 item 6): prints per category
Cohen's kappa and % agreement, and ends with the figures as one JSON line.

Reads ``conversations.yml`` and every ``labels_<name>.yml`` beside it (``--dir``, default
``data/quality``; :mod:`console.services.analytics.quality_set` validates both). Compared, per
category and over all categories pooled:

- labeller against labeller (the first two label files, by name, or ``--labellers a b``);
- the rules scorer (:func:`handoff.quality.score_conversation`; a score >= 0.5 is 1) against
  each labeller, and against the consensus: the conversations both labellers labelled the same.

"Does not apply" (a null label, a ``None`` score) is a class of its own beside 1 and 0, so a
kappa here is over three classes: saying a category does not apply when the other says it
does is a disagreement, as it would be in a review. ``all`` pools every label (as 1 / 0 /
n/a, whatever its category) and gives the mean of the categories' kappas beside. Only
conversations both sides labelled are compared (``n``); kappa is ``None`` when one side
gives a single class throughout (it is undefined then) and so printed as "–". With one
label file only the rules against it are printed; with none, the counts.

``--judge llm --llm-url URL`` also scores every conversation with the LLM judge
(:class:`console.services.analytics.quality_judge.LLMJudge`, one call per conversation, in
turn) and compares it with the consensus twice: as deployed ("llm judge": its verdicts, the
rules wherever it fell back) and on the items the model itself answered only ("llm answered
only"). Per category it counts the conversations the model answered and those the rules
scored instead (a failed or timed-out call, an invalid entry, or no reply to judge), so a
kappa is never read as the model's when the rules gave it. ``--limit N`` keeps the first N
conversations for every comparison (the rules' too, so they stand side by side).

``--split calibration|held-out|all`` keeps half the set: the calibration half is the
conversations whose id ends in an odd number (qa-001, qa-003, ...), the one the rules may be
tuned on; the held-out half, the even ids, is the one to measure them on (``all``, the default,
keeps both). The split applies before ``--limit``.

Usage: ``python -m bench.quality_agreement [--dir data/quality] [--labellers a b]
[--judge llm --llm-url http://127.0.0.1:8080/v1 [--llm-model M] [--timeout S]] [--limit N]
[--split calibration|held-out|all]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from console.services.analytics.quality import CATEGORIES, QualityScore, score_conversation
from console.services.analytics.quality_judge import LLMJudge
from console.services.analytics.quality_set import (
    LabelSet,
    QualitySet,
    load_labels,
    load_quality_set,
    transcript,
)

NA = "n/a"
SPLITS = ("calibration", "held-out", "all")
#: per conversation, per category: 1, 0 or NA
Labels = dict[str, dict[str, int | str]]


def cohen_kappa(left: Sequence[Hashable], right: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items (None when it is undefined: chance
    agreement is 1, i.e. both gave one and the same class throughout, or there are no items)."""
    if len(left) != len(right):
        raise ValueError("the two raters must rate the same items")
    n = len(left)
    if not n:
        return None
    observed = sum(1 for a, b in zip(left, right, strict=True) if a == b) / n
    left_counts, right_counts = Counter(left), Counter(right)
    expected = sum(left_counts[c] * right_counts[c] for c in left_counts) / (n * n)
    if expected == 1:
        return None
    return round((observed - expected) / (1 - expected), 4)


def compare(left: Labels, right: Labels) -> dict[str, dict[str, Any]]:
    """Per category and pooled (``all``): items both rated, % agreement and kappa."""
    shared = [i for i in left if i in right]
    return _per_category(
        {c: ([left[i][c] for i in shared], [right[i][c] for i in shared]) for c in CATEGORIES}
    )


def _per_category(
    pairs: Mapping[str, tuple[Sequence[Hashable], Sequence[Hashable]]],
) -> dict[str, dict[str, Any]]:
    """The figures of each category, and ``all``: every label pooled as 1 / 0 / n/a (not by
    category: classes split by category would make chance agreement small and kappa look
    better than any category's), with the mean of the categories' kappas beside it."""
    figures = {category: _figures(a, b) for category, (a, b) in pairs.items()}
    kappas = [f["kappa"] for f in figures.values() if f["kappa"] is not None]
    pooled = _figures([x for a, _ in pairs.values() for x in a], [y for _, b in pairs.values() for y in b])
    pooled["mean_kappa"] = round(sum(kappas) / len(kappas), 4) if kappas else None
    figures["all"] = pooled
    return figures


def _figures(a: Sequence[Hashable], b: Sequence[Hashable]) -> dict[str, Any]:
    agreed = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    return {
        "n": len(a),
        "agreement": round(agreed / len(a), 4) if a else None,
        "kappa": cohen_kappa(a, b),
    }


def human_labels(labels: LabelSet) -> Labels:
    """A labeller's file as 1 / 0 / NA per category."""
    return {
        conversation: {c: NA if value is None else value for c, value in categories.items()}
        for conversation, categories in labels.labels.items()
    }


def as_labels(score: QualityScore) -> dict[str, int | str]:
    """A score's categories as 1 / 0 / NA (score >= 0.5 is 1, None is NA)."""
    return {c.category: NA if c.score is None else int(c.score >= 0.5) for c in score.categories}


def rules_labels(quality_set: QualitySet) -> Labels:
    """The rules scorer's verdicts on every conversation (score >= 0.5 is 1, None is NA)."""
    return {
        conversation.id: as_labels(score_conversation(transcript(conversation), conversation.speaker))
        for conversation in quality_set.conversations
    }


async def judge_scores(quality_set: QualitySet, judge: LLMJudge) -> dict[str, QualityScore]:
    """The judge's score of every conversation, one call at a time (as the console makes them);
    a progress line per conversation on stderr."""
    scores = {}
    for n, conversation in enumerate(quality_set.conversations, start=1):
        started = time.monotonic()
        scores[conversation.id] = score = await judge.judge(transcript(conversation), conversation.speaker)
        answered = sum(1 for c in score.categories if c.source == "llm")
        print(
            f"{n}/{len(quality_set.conversations)} {conversation.id}: {answered} of "
            f"{len(score.categories)} answered, {time.monotonic() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return scores


async def judge_and_close(quality_set: QualitySet, judge: LLMJudge) -> dict[str, QualityScore]:
    """:func:`judge_scores`, then the judge's client closed: its connections belong to this
    event loop, which ends with the run (an unclosed one leaks its socket)."""
    try:
        return await judge_scores(quality_set, judge)
    finally:
        close = getattr(judge.client, "close", None)
        if close is not None:
            await close()


def judge_sources(scores: Mapping[str, QualityScore]) -> dict[str, dict[str, int]]:
    """Per category, how many conversations the model answered and how many the rules scored."""
    counts = {c: {"llm": 0, "rules": 0} for c in CATEGORIES}
    for score in scores.values():
        for c in score.categories:
            counts[c.category][c.source] += 1
    return counts


def consensus(a: Labels, b: Labels) -> Labels:
    """Per category, the items both labellers labelled the same (a category's items differ)."""
    out: Labels = {}
    for conversation in a.keys() & b.keys():
        agreed = {c: a[conversation][c] for c in CATEGORIES if a[conversation][c] == b[conversation][c]}
        if agreed:
            out[conversation] = agreed
    return out


def compare_consensus(rules: Labels, agreed: Labels) -> dict[str, dict[str, Any]]:
    """:func:`compare` over the consensus, where each category has its own items."""
    pairs = {}
    for category in CATEGORIES:
        items = sorted(i for i, cats in agreed.items() if category in cats and category in rules.get(i, {}))
        pairs[category] = ([rules[i][category] for i in items], [agreed[i][category] for i in items])
    return _per_category(pairs)


def in_split(conversation_id: str, split: str) -> bool:
    """Whether a conversation belongs to ``split``: calibration is the odd ids (qa-001), the
    held-out half the even ones (qa-002), all is both. An id not ending in a number is in
    neither half."""
    if split == "all":
        return True
    digits = re.search(r"(\d+)$", conversation_id)
    if digits is None:
        return False
    odd = int(digits.group(1)) % 2 == 1
    return odd if split == "calibration" else not odd


def label_files(directory: Path) -> dict[str, Path]:
    """``labels_<name>.yml`` files of ``directory`` by name, sorted."""
    return {p.stem.removeprefix("labels_"): p for p in sorted(directory.glob("labels_*.yml"))}


def run(
    directory: Path,
    labellers: Sequence[str] | None = None,
    *,
    judge: LLMJudge | None = None,
    limit: int | None = None,
    split: str = "all",
) -> dict[str, Any]:
    """Every comparison the label files allow, as a dict (what the JSON line holds); with a
    judge, its comparisons with the consensus and where it answered; ``split`` keeps one half
    of the set (:func:`in_split`), then ``limit`` the first conversations only."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    quality_set = load_quality_set(directory / "conversations.yml")
    files = label_files(directory)
    names = list(labellers) if labellers else list(files)
    missing = [n for n in names if n not in files]
    if missing:
        raise SystemExit(f"no labels_{missing[0]}.yml in {directory}")
    people = {name: human_labels(load_labels(files[name], quality_set)) for name in names}
    kept_conversations = [c for c in quality_set.conversations if in_split(c.id, split)]
    if limit is not None:
        kept_conversations = kept_conversations[:limit]
    if split != "all" or limit is not None:  # after the labels are checked against the whole set
        quality_set = quality_set.model_copy(update={"conversations": kept_conversations})
        kept = {c.id for c in quality_set.conversations}
        people = {name: {i: v for i, v in labels.items() if i in kept} for name, labels in people.items()}
    rules = rules_labels(quality_set)
    result: dict[str, Any] = {
        "conversations": len(quality_set.conversations),
        "split": split,
        "labelled": {name: len(labels) for name, labels in people.items()},
        "null": "a class of its own (1 / 0 / n/a)",
        "comparisons": {},
    }
    comparisons = result["comparisons"]
    if len(names) >= 2:
        a, b = names[0], names[1]
        comparisons[f"{a} vs {b}"] = compare(people[a], people[b])
    for name in names:
        comparisons[f"rules vs {name}"] = compare(rules, people[name])
    if len(names) >= 2:
        comparisons["rules vs consensus"] = compare_consensus(
            rules, consensus(people[names[0]], people[names[1]])
        )
    if judge is not None:
        started = time.monotonic()
        scores = asyncio.run(judge_and_close(quality_set, judge))
        result["judge"] = {
            "model": judge.model,
            "conversations": len(scores),
            "seconds": round(time.monotonic() - started, 1),
            "sources": judge_sources(scores),
        }
        if len(names) >= 2:
            agreed = consensus(people[names[0]], people[names[1]])
            answered = {
                i: {c.category: as_labels(s)[c.category] for c in s.categories if c.source == "llm"}
                for i, s in scores.items()
            }
            comparisons["llm judge vs consensus"] = compare_consensus(
                {i: as_labels(s) for i, s in scores.items()}, agreed
            )
            comparisons["llm answered only vs consensus"] = compare_consensus(answered, agreed)
    return result


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.0f}%" if percent else f"{value:.2f}"


def print_tables(result: Mapping[str, Any]) -> None:
    """One table per comparison: per category n, % agreement and kappa."""
    print(
        f"{result['conversations']} conversations"
        + ("" if result.get("split", "all") == "all" else f" ({result['split']} half)")
        + "; labelled: "
        + (", ".join(f"{k} {v}" for k, v in result["labelled"].items()) or "no label files")
        + f"; null is {result['null']}"
    )
    for title, figures in result["comparisons"].items():
        print(f"\n{title}")
        print(f"  {'category':<18} {'n':>4} {'agree':>6} {'kappa':>6}")
        for category, f in figures.items():
            print(f"  {category:<18} {f['n']:>4} {_cell(f['agreement'], True):>6} {_cell(f['kappa']):>6}")
        print(f"  {'mean of the kappas':<30} {_cell(figures['all']['mean_kappa']):>6}")
    judged = result.get("judge")
    if judged:
        print(
            f"\nllm judge ({judged['model']}): {judged['conversations']} conversations in "
            f"{judged['seconds']:.0f} s; per category, answered by the model / scored by the rules"
        )
        for category, counts in judged["sources"].items():
            print(f"  {category:<18} {counts['llm']:>4} / {counts['rules']}")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments, print the tables, end with the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("data/quality"), help="conversations.yml and labels")
    parser.add_argument("--labellers", nargs="+", help="label files to use (labels_<name>.yml), in order")
    parser.add_argument("--judge", choices=("rules", "llm"), default="rules", help="llm: also the LLM judge")
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1)")
    parser.add_argument("--llm-model", default="default", help="model name sent to the server")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per judge call")
    parser.add_argument("--limit", type=int, help="the first N conversations only")
    parser.add_argument(
        "--split", choices=SPLITS, default="all", help="calibration: odd ids; held-out: even ids"
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.judge == "llm" and not args.llm_url:
        parser.error("--judge llm needs --llm-url")
    judge = None
    if args.judge == "llm":
        from knowledge.llm import make_openai_client

        client = make_openai_client(args.llm_url, None, args.timeout)
        judge = LLMJudge(client, args.llm_model, timeout=args.timeout)
    result = run(args.dir, args.labellers, judge=judge, limit=args.limit, split=args.split)
    print_tables(result)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
