"""``bench/kb.py`` on a tiny set: it ingests, queries and ends with the figures as one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import kb as bench_kb
from bench import kb_data


def write(path: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_benchmark_prints_its_figures_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = write(
        tmp_path / "docs.jsonl",
        [
            {
                "id": "Late Policy/1",
                "title": "Arriving late",
                "text": "Up to 15 minutes late, your treatment goes ahead.",
            },
            {
                "id": "gift",
                "title": "Gift cards",
                "text": "Gift cards are valid for 12 months in every studio.",
            },
            {"id": "parking", "title": "Parking", "text": "The garage gives 2 hours of free parking."},
        ],
    )
    queries = write(
        tmp_path / "queries.jsonl",
        [
            {"query": "what if I am late for my appointment?", "doc_id": "Late Policy/1"},
            {"query": "how long can I use a gift voucher?", "doc_id": "gift"},
            {"query": "where do I park my car?", "doc_id": "parking"},
            {"query": "do you repair bicycles?", "doc_id": None},
        ],
    )
    bench_kb.main(["--docs", str(docs), "--queries", str(queries), "--warmup", "1", "--query-threads", "0"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(figures) == {
        "top1",
        "top5",
        "mrr",
        "no_answer_precision",
        "no_answer_recall",
        "latency_ms_p50",
        "latency_ms_p99",
        "baselines",
    }
    # the plain MiniLM arms ran on the same queries and labels
    assert set(figures["baselines"]) == {"minilm_chunks", "minilm_titles"}
    for arm in figures["baselines"].values():
        assert set(arm) == {"top1", "top5", "mrr"}
        assert 0 < arm["mrr"] <= 1.0 and arm["top1"] <= arm["top5"]
    assert figures["top1"] == 1.0 and figures["mrr"] == 1.0
    assert figures["no_answer_recall"] == 1.0
    assert 0 < figures["latency_ms_p50"] <= figures["latency_ms_p99"]


def test_plain_minilm_ranks_by_cosine_among_what_the_client_may_see() -> None:
    import numpy as np

    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.99, 0.14]], dtype=np.float32)
    arm = bench_kb.PlainMiniLM(
        vectors,
        ["a", "b", "c", "d"],
        ["en", "en", "pl", "en"],
        [(0, 99), (0, 99), (0, 99), (50, 99)],  # "d" is valid only from day 50
    )
    query = np.array([1.0, 0.0], dtype=np.float32)
    assert arm.rank(query, {"en"}, day=10) == ["a", "b"]
    assert arm.rank(query, {"en"}, day=60) == ["a", "d", "b"]
    assert arm.rank(query, {"en", "pl"}, day=10) == ["a", "b", "c"]


def test_without_unanswerable_queries_no_answer_figures_are_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = write(tmp_path / "docs.jsonl", [{"id": "gift", "title": "Gift cards", "text": "Valid 12 months."}])
    queries = write(tmp_path / "queries.jsonl", [{"query": "gift card validity", "doc_id": "gift"}])
    bench_kb.main(["--docs", str(docs), "--queries", str(queries), "--warmup", "0", "--query-threads", "0"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["no_answer_precision"] is None and figures["no_answer_recall"] is None


def test_demo_set_builder_covers_every_query_language(tmp_path: Path) -> None:
    docs_path, queries_path = kb_data.demo(tmp_path)
    docs = [json.loads(line) for line in docs_path.read_text().splitlines()]
    queries = [json.loads(line) for line in queries_path.read_text().splitlines()]
    ids = {d["id"] for d in docs}
    assert all(q["doc_id"] is None or q["doc_id"] in ids for q in queries)
    assert all(set(q.get("alt_doc_ids", [])) <= ids for q in queries)
    assert {q["language"] for q in queries} == {"en", "pl", "uk"}
    assert sum(q["doc_id"] is None for q in queries) >= 20


def test_synthetic_builder_makes_one_chunk_docs(tmp_path: Path) -> None:
    from knowledge.chunking import chunk_article

    docs_path, queries_path = kb_data.synthetic(tmp_path, chunks=50, query_count=20)
    docs = [json.loads(line) for line in docs_path.read_text().splitlines()]
    articles, _ = bench_kb.articles_from_docs(docs)
    assert len(docs) == 50 and all(len(chunk_article(a)) == 1 for a in articles)
    queries = [json.loads(line) for line in queries_path.read_text().splitlines()]
    assert len(queries) == 20
