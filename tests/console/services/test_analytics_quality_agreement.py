"""``bench/quality_agreement.py`` on a three-conversation set and two label files written here,
with figures worked out by hand: Cohen's kappa over 1 / 0 / n/a, % agreement, the rules against
each labeller and against the consensus; with one label file, and the JSON line last."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.quality_agreement import cohen_kappa, in_split, main, run
from tests.knowledge.conftest import free_port
from tests.knowledge.test_llm import start_server, stop

CONVERSATIONS = {
    "version": 1,
    "conversations": [
        {
            "id": "c1",
            "language": "en",
            "speaker": "agent",
            "agent": "anna",
            "turns": [
                {"sender": "client", "text": "My lashes are ruined and I am really upset."},
                {"sender": "agent", "text": "Hello, I am Anna. I am so sorry about your lashes."},
                {
                    "sender": "agent",
                    "text": "I have booked you a free correction on Friday at 14:00. "
                    "Is there anything else I can do?",
                },
            ],
        },
        {
            "id": "c2",
            "language": "en",
            "speaker": "agent",
            "agent": "olga",
            "turns": [
                {"sender": "client", "text": "This is terrible, I want a refund for the burn"},
                {"sender": "agent", "text": "calm down. as i said it is NOT my problem!!"},
                {"sender": "client", "text": "That's not what I asked"},
            ],
        },
        {
            "id": "c3",
            "language": "pl",
            "speaker": "bot",
            "turns": [
                {"sender": "client", "text": "Dzień dobry, do której jesteście otwarci?"},
                {"sender": "bot", "text": "Dzień dobry! Jesteśmy otwarci do 21:00. Miłego dnia!"},
            ],
        },
    ],
}
ALL_ONE = dict.fromkeys(
    (
        "greeting",
        "empathy",
        "spelling_grammar",
        "closing",
        "solution_offered",
        "tone",
        "readability",
        "comprehension",
    ),
    1,
)
# labeller a says what the rules say (the rules' verdicts on these three are known: see
# tests/console/services/test_analytics_quality.py); b differs on three labels
LABELS_A = {
    "c1": dict(ALL_ONE),
    "c2": {**dict.fromkeys(ALL_ONE, 0), "readability": 1},
    "c3": {**ALL_ONE, "empathy": None},
}
LABELS_B = {
    "c1": {**ALL_ONE, "greeting": 0},
    "c2": dict.fromkeys(ALL_ONE, 0),
    "c3": dict(ALL_ONE),
}


def write(directory: Path, name: str, data: object) -> None:
    (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def quality_dir(tmp_path: Path) -> Path:
    write(tmp_path, "conversations.yml", CONVERSATIONS)
    write(tmp_path, "labels_a.yml", {"version": 1, "labeller": "a", "labels": LABELS_A})
    write(tmp_path, "labels_b.yml", {"version": 1, "labeller": "b", "labels": LABELS_B})
    return tmp_path


def test_cohen_kappa_on_a_textbook_table_and_where_it_is_undefined() -> None:
    # 50 items: both yes 20, a yes b no 5, a no b yes 10, both no 15: po 0.7, pe 0.5
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == 0.4
    assert cohen_kappa(["1", "1"], ["1", "1"]) is None  # one class throughout: chance agreement is 1
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


def test_two_labellers_the_rules_and_the_consensus(quality_dir: Path) -> None:
    result = run(quality_dir)
    assert (result["conversations"], result["labelled"]) == (3, {"a": 3, "b": 3})
    figures = result["comparisons"]
    assert list(figures) == ["a vs b", "rules vs a", "rules vs b", "rules vs consensus"]
    ab = figures["a vs b"]
    # greeting a=[1,0,1] b=[0,0,1]: po 2/3, pe 4/9 -> 0.4
    assert ab["greeting"] == {"n": 3, "agreement": 0.6667, "kappa": 0.4}
    # empathy a=[1,0,n/a] b=[1,0,1]: n/a is a class of its own: po 2/3, pe 3/9 -> 0.5
    assert ab["empathy"] == {"n": 3, "agreement": 0.6667, "kappa": 0.5}
    # readability a=[1,1,1] b=[1,0,1]: po 2/3 = pe -> 0
    assert ab["readability"] == {"n": 3, "agreement": 0.6667, "kappa": 0.0}
    assert ab["tone"] == {"n": 3, "agreement": 1.0, "kappa": 1.0}
    # pooled as plain 1 / 0 / n/a: a 16 / 7 / 1, b 15 / 9 / 0, 21 of 24 agree: (504 - 303) / (576 - 303)
    assert ab["all"] == {"n": 24, "agreement": 0.875, "kappa": round(201 / 273, 4), "mean_kappa": 0.7375}
    rules_a = figures["rules vs a"]
    assert all(f["agreement"] == 1.0 for f in rules_a.values()), rules_a
    assert figures["rules vs b"]["greeting"] == ab["greeting"]
    consensus = figures["rules vs consensus"]
    # the consensus keeps, per category, the items a and b agree on
    assert consensus["greeting"] == {"n": 2, "agreement": 1.0, "kappa": 1.0}
    assert consensus["empathy"]["n"] == 2 and consensus["readability"]["n"] == 2
    assert consensus["tone"]["n"] == 3 and consensus["all"]["n"] == 21


def test_one_label_file_gives_the_rules_against_it(quality_dir: Path) -> None:
    (quality_dir / "labels_b.yml").unlink()
    result = run(quality_dir)
    assert list(result["comparisons"]) == ["rules vs a"]
    (quality_dir / "labels_a.yml").unlink()
    assert run(quality_dir)["comparisons"] == {}


def test_partial_labels_compare_only_what_both_labelled(quality_dir: Path) -> None:
    write(quality_dir, "labels_b.yml", {"version": 1, "labeller": "b", "labels": {"c2": LABELS_B["c2"]}})
    figures = run(quality_dir, ["a", "b"])["comparisons"]
    assert figures["a vs b"]["readability"] == {"n": 1, "agreement": 0.0, "kappa": 0.0}
    assert figures["a vs b"]["tone"] == {"n": 1, "agreement": 1.0, "kappa": None}  # one class: undefined
    assert figures["rules vs b"]["all"]["n"] == 8


def test_the_script_prints_tables_and_ends_with_the_json_line(
    quality_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--dir", str(quality_dir)])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "3 conversations; labelled: a 3, b 3; null is a class of its own (1 / 0 / n/a)"
    assert "a vs b" in out and "  greeting              3    67%   0.40" in out
    assert json.loads(out[-1])["comparisons"]["a vs b"]["greeting"]["kappa"] == 0.4
    with pytest.raises(SystemExit, match=r"no labels_c\.yml"):
        main(["--dir", str(quality_dir), "--labellers", "a", "c"])


def last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_limit_keeps_the_first_conversations_for_every_comparison(
    quality_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--dir", str(quality_dir), "--limit", "2"])
    result = last_json(capsys)
    assert (result["conversations"], result["labelled"]) == (2, {"a": 2, "b": 2})
    assert result["comparisons"]["a vs b"]["all"]["n"] == 16
    for bad in (["--limit", "0"], ["--judge", "llm"]):  # a limit below one; the judge without its URL
        with pytest.raises(SystemExit):
            main(["--dir", str(quality_dir), *bad])


def test_split_keeps_the_odd_or_the_even_ids_for_every_comparison(
    quality_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [in_split(i, "calibration") for i in ("qa-001", "qa-002", "c3", "x")] == [True, False, True, False]
    assert [in_split(i, "held-out") for i in ("qa-001", "qa-002", "c3", "x")] == [False, True, False, False]
    assert all(in_split(i, "all") for i in ("qa-001", "qa-002", "x"))
    main(["--dir", str(quality_dir), "--split", "calibration"])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("2 conversations (calibration half); labelled: a 2, b 2")
    calibration = json.loads(out[-1])
    assert calibration["split"] == "calibration"
    assert calibration["comparisons"]["a vs b"]["all"]["n"] == 16
    held_out = run(quality_dir, split="held-out")
    assert (held_out["conversations"], held_out["labelled"]) == (1, {"a": 1, "b": 1})
    assert held_out["comparisons"]["a vs b"]["readability"] == {"n": 1, "agreement": 0.0, "kappa": 0.0}
    assert run(quality_dir, split="held-out", limit=5)["conversations"] == 1
    with pytest.raises(SystemExit):
        main(["--dir", str(quality_dir), "--split", "even"])


def test_a_judge_nobody_answers_is_counted_as_the_rules_not_as_the_model(
    quality_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there: every call fails
    main(["--dir", str(quality_dir), "--judge", "llm", "--llm-url", url, "--timeout", "5"])
    result = last_json(capsys)
    assert result["judge"]["conversations"] == 3
    assert result["judge"]["sources"] == {c: {"llm": 0, "rules": 3} for c in ALL_ONE}
    figures = result["comparisons"]
    assert figures["llm judge vs consensus"] == figures["rules vs consensus"]  # the rules' verdicts
    assert all(f["n"] == 0 for f in figures["llm answered only vs consensus"].values())


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_server(tmp_path_factory.mktemp("agreement_llm") / "server.log")
    yield url
    stop(process)


def test_the_real_judge_is_compared_on_what_the_model_answered(
    quality_dir: Path, llm_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """llama.cpp serving SmolLM2-135M on c1 (agent replies, one call): the plumbing, not the
    model's judgement. The consensus on c1 is every category but greeting (b says 0, a 1)."""
    judge = ["--judge", "llm", "--llm-url", llm_url, "--llm-model", "smollm2", "--timeout", "180"]
    main(["--dir", str(quality_dir), *judge, "--limit", "1"])
    result = last_json(capsys)
    sources = result["judge"]["sources"]
    assert all(counts["llm"] + counts["rules"] == 1 for counts in sources.values()), sources
    answered_only = result["comparisons"]["llm answered only vs consensus"]
    assert answered_only["greeting"]["n"] == 0
    for category in ALL_ONE:
        if category != "greeting":
            assert answered_only[category]["n"] == sources[category]["llm"], (category, answered_only)
    assert result["comparisons"]["llm judge vs consensus"]["all"]["n"] == 7
