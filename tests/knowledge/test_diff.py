"""The editor's diff: lines and words that changed, unchanged runs folded, only changed fields."""

from __future__ import annotations

from knowledge.diff import (
    MAX_LINE_WORK,
    MAX_PAIR_WORK,
    MAX_WORD_TOKENS,
    article_diff,
    line_diff,
    word_segments,
)
from knowledge.models import Article


def ops(segments: list) -> list[tuple[str, str]]:
    return [(s.op, s.text) for s in segments]


def test_a_changed_word_is_marked_inside_its_line() -> None:
    segments = word_segments("A 15-minute grace period applies.", "A 10-minute grace period applies.")
    assert ops(segments) == [
        ("equal", "A "),
        ("delete", "15"),
        ("insert", "10"),
        ("equal", "-minute grace period applies."),
    ]


def test_lines_added_removed_and_changed_with_line_numbers() -> None:
    old = "Intro.\nKeep this line.\nRemove me.\nPrice: 100 PLN."
    new = "Intro.\nKeep this line.\nPrice: 120 PLN.\nA new last line."
    lines = line_diff(old, new)
    assert [(line.op, line.old, line.new) for line in lines] == [
        ("equal", 1, 1),
        ("equal", 2, 2),
        ("delete", 3, None),
        ("change", 4, 3),
        ("insert", None, 4),
    ]
    assert ops(lines[2].segments) == [("delete", "Remove me.")]
    assert ops(lines[3].segments) == [
        ("equal", "Price: "),
        ("delete", "100"),
        ("insert", "120"),
        ("equal", " PLN."),
    ]
    assert ops(lines[4].segments) == [("insert", "A new last line.")]


def test_long_unchanged_runs_are_folded_to_context() -> None:
    body = [f"line {n}" for n in range(1, 31)]
    changed = [*body[:14], "line fifteen", *body[15:]]
    lines = line_diff("\n".join(body), "\n".join(changed))
    kinds = [line.op for line in lines]
    assert kinds == ["skip", "equal", "equal", "change", "equal", "equal", "skip"]
    assert (lines[0].skipped, lines[0].old) == (12, 1)
    assert (lines[-1].skipped, lines[-1].old) == (13, 18)
    assert ops(lines[3].segments) == [("equal", "line "), ("delete", "15"), ("insert", "fifteen")]


def test_a_huge_line_is_shown_whole_rather_than_diffed_word_by_word() -> None:
    old = "word " * MAX_WORD_TOKENS
    segments = word_segments(old, old + "more")
    assert ops(segments) == [("delete", old), ("insert", old + "more")]


def test_only_changed_fields_are_listed_and_markup_stays_text() -> None:
    live = Article(
        id="parking", title="Parking", tags=["car"], answer="Free parking.", body="Park at the back."
    )
    draft = live.model_copy(
        update={"answer": "Free parking <script>alert(1)</script>.", "tags": ["car", "garage"]}
    )
    diff = article_diff("parking", live, 1, draft, 2)
    assert diff.changed and (diff.base_version, diff.target_version) == (1, 2)
    assert [f.field for f in diff.fields] == ["answer", "tags"]
    answer = diff.fields[0].lines[0]
    assert answer.op == "change"
    assert ("insert", " <script>alert(1)</script>") in ops(answer.segments)
    assert ops(diff.fields[1].lines[0].segments) == [("equal", "car"), ("insert", ", garage")]
    assert not article_diff("parking", live, 1, live, 1).changed


def test_nothing_live_means_every_field_is_new() -> None:
    draft = Article(id="sauna", title="Sauna", body="Sit on a towel.\nShower first.")
    diff = article_diff("sauna", None, None, draft, 1)
    body = next(f for f in diff.fields if f.field == "body")
    assert [(line.op, line.new) for line in body.lines] == [("insert", 1), ("insert", 2)]
    assert {f.field for f in diff.fields} == {"title", "body", "category", "language"}


def test_a_body_of_many_repeated_lines_is_shown_whole_instead_of_matched_pair_by_pair() -> None:
    """The line matcher visits every (old, new) pair of equal lines: 10,000 repeated lines took
    14 s and a 200,000-character body of them half an hour, on every editor page load."""
    repeated = int(MAX_LINE_WORK**0.5) + 1
    old = "x\n" * repeated + "y"
    new = "z\n" + "x\n" * repeated
    lines = line_diff(old, new)
    assert [line.op for line in lines] == ["delete"] * (repeated + 1) + ["insert"] * (repeated + 1)
    assert (lines[-2].new, lines[-1].new) == (repeated, repeated + 1)
    assert lines[repeated].segments[0].text == "y" and lines[repeated + 1].segments[0].text == "z"


def test_a_block_of_long_lines_is_not_paired_when_comparing_them_would_cost_too_much() -> None:
    """Ten long lines replaced by ten others: pairing them compared 100 token lists (seconds;
    50 x 50 took minutes), so they are shown deleted and inserted; a short block still pairs."""
    words = MAX_WORD_TOKENS // 8
    old = "\n".join("word " * words + f"old{i}" for i in range(10))
    new = "\n".join("word " * words + f"new{i}" for i in range(10))
    assert (2 * words * 10) ** 2 > MAX_PAIR_WORK
    assert [line.op for line in line_diff(old, new)] == ["delete"] * 10 + ["insert"] * 10
    short = line_diff("Price: 100 PLN.\nOpen 9-17.", "Price: 120 PLN.\nOpen 9-18.")
    assert [line.op for line in short] == ["change", "change"]
