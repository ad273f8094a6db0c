"""Golden questions: the shipped ones pass, a malformed file is reported, regressions are seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.golden import GoldenQuestion, load_golden, run_golden
from knowledge.service import KnowledgeBase


async def test_every_shipped_golden_question_passes(
    demo_store: ChromaKnowledgeStore, golden: list[GoldenQuestion]
) -> None:
    report = await run_golden(KnowledgeBase(demo_store), golden)
    assert report.passed, [f.model_dump() for f in report.failures]
    assert any(not q.expect for q in golden), "the golden set checks honest no-answers too"
    assert {q.language for q in golden} == {"en", "pl", "uk", "ru"}


async def test_removing_an_article_fails_its_golden_question(
    store_copy: ChromaKnowledgeStore, golden: list[GoldenQuestion]
) -> None:
    await store_copy.delete("lateness-policy")
    report = await run_golden(KnowledgeBase(store_copy), golden)
    failed = {f.question for f in report.failures}
    assert "what happens if I'm 15 minutes late?" in failed
    failure = next(f for f in report.failures if f.question == "what happens if I'm 15 minutes late?")
    assert failure.expect == ["lateness-policy"] and failure.got != "lateness-policy"


def test_malformed_golden_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "golden.yml"
    path.write_text("tests:\n  - expect: x\n")
    with pytest.raises(FormatError, match="question"):
        load_golden(path)
    path.write_text("tests: [\n")
    with pytest.raises(FormatError, match="invalid YAML"):
        load_golden(path)
