"""``concierge kb ingest|ask|test|gaps`` on a project of its own (files, database, embedded Chroma)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from knowledge.cli import kb_app
from knowledge.golden import GoldenQuestion
from knowledge.golden_store import GoldenStore


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Path:
    """A project with three demo articles and golden questions about them, ingested once."""
    root = tmp_path_factory.mktemp("project")
    (root / "data" / "knowledge").mkdir(parents=True)
    for name in ("lateness-policy", "gift-cards", "deposits"):
        shutil.copy(repo_dir / "data" / "knowledge" / "en" / f"{name}.md", root / "data" / "knowledge")
    (root / "data" / "knowledge_tests.yml").write_text(
        "tests:\n"
        '  - {question: "what happens if I\'m 15 minutes late?", expect: lateness-policy}\n'
        '  - {question: "how long is a gift card valid?", expect: gift-cards}\n'
        '  - {question: "do you sell protein shakes?", expect: null}\n'
    )
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(kb_app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def last_json(output: str) -> object:
    start = output.index("{") if output.lstrip().startswith("{") else output.index("\n{") + 1
    return json.loads(output[start:])


def test_ask_and_test_on_an_empty_index_say_to_ingest_first(tmp_path: Path) -> None:
    (tmp_path / "data" / "knowledge").mkdir(parents=True)
    for command in (["ask", "do you do gel removal?"], ["test"]):
        result = CliRunner().invoke(kb_app, [*command, "--project", str(tmp_path)])
        assert result.exit_code == 2
        assert "concierge kb ingest" in result.stderr
        assert result.stdout == ""


def test_ingest_is_incremental_and_records_versions(project: Path) -> None:
    code, out = run("ingest", "--project", str(project))
    assert code == 0
    first = last_json(out)
    assert first["articles"] == 3 and sorted(first["changed"]) == [
        "deposits",
        "gift-cards",
        "lateness-policy",
    ]
    assert (project / ".concierge" / "concierge.db").is_file()
    code, out = run("ingest", "--project", str(project))
    assert last_json(out)["changed"] == []
    edited = project / "data" / "knowledge" / "deposits.md"
    edited.write_text(edited.read_text().replace("30%", "35%"))
    code, out = run("ingest", "--project", str(project))
    assert last_json(out)["changed"] == ["deposits"]


def test_ask_prints_the_answer_with_sources_as_json(project: Path) -> None:
    run("ingest", "--project", str(project))
    code, out = run("ask", "what if I arrive 10 minutes late?", "--project", str(project))
    assert code == 0
    answer = last_json(out)
    assert answer["answered"] is True
    assert "15-minute" in answer["answer"]
    assert answer["sources"][0]["article_id"] == "lateness-policy" and answer["sources"][0]["score"] > 0.4
    code, out = run("ask", "do you do tattoos?", "--project", str(project))
    assert last_json(out)["answered"] is False and last_json(out)["answer"] is None


async def add_golden(project: Path, question: GoldenQuestion) -> None:
    from bot.store.database import create_engine

    engine = create_engine(f"sqlite:///{project / '.concierge' / 'concierge.db'}")
    try:
        await GoldenStore(engine).add(question, "anna")
    finally:
        await engine.dispose()


def test_kb_test_passes_and_fails_with_the_failing_questions(project: Path) -> None:
    run("ingest", "--project", str(project))
    code, out = run("test", "--project", str(project))
    assert code == 0 and last_json(out)["passed"] == 3 and last_json(out)["failures"] == []
    # the questions are the database's: one an editor added in the console is run too
    asyncio.run(add_golden(project, GoldenQuestion(question="is my deposit refunded?", expect=["deposits"])))
    code, out = run("test", "--project", str(project))
    assert code == 0 and last_json(out)["total"] == 4, out
    broken = project / "golden-broken.yml"
    broken.write_text(
        'tests:\n  - {question: "how long is a gift card valid?", expect: deposits}\n'
        '  - {question: "how long is a gift card valid?", expect: gift-cards,'
        ' facts: ["valid for 12 months", "valid for 24 months", "free parking"]}\n'
    )
    code, out = run("test", "--project", str(project), "--golden", str(broken))
    assert code == 1
    report = last_json(out)
    assert report["failures"][0]["got"] == "gift-cards"
    # per fact: what the answer states, what it contradicts, what it leaves out
    assert report["facts"]["stated"] == 1 and report["facts"]["total"] == 3
    assert [(f["fact"], f["status"]) for f in report["facts"]["lost"]] == [
        ("valid for 24 months", "contradicted"),
        ("free parking", "missing"),
    ]


def test_gaps_lists_nothing_on_a_fresh_database(project: Path) -> None:
    code, out = run("gaps", "--project", str(project))
    assert code == 0 and json.loads(out) == []
