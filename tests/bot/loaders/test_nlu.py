"""NLU training files load into :class:`NLUData` with plain texts, spans and synonyms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.loaders import load_nlu
from bot.loaders.nlu import NLUFiles, parse_nlu_source
from bot.loaders.yaml_io import Source

from .helpers import write


def test_financial_demo_nlu(eval_dir: Path) -> None:
    data = load_nlu([eval_dir / "rasa-bots" / "financial-demo" / "data" / "nlu" / "nlu.yml"])
    assert len(data.examples) == 578
    assert len(data.intents) == 17
    # synonym blocks plus values annotated differently from their surface text
    assert data.synonyms["emblm"] == "emblem"
    assert data.synonyms["credit card"] == "credit"
    example = next(e for e in data.examples if e.text == "check my credit card balance")
    assert example.intent == "check_balance"
    assert [(s.entity, s.value, example.text[s.start : s.end]) for s in example.entities] == [
        ("account_type", "credit", "credit card"),
        ("amount-of-money", "balance", "balance"),
    ]


NLU = """
    version: "3.1"
    nlu:
    - intent: greet
      examples: |
        - hi
        - hello [Anna](name)

        - hey there
    - intent: faq/ask_hours
      examples: |
        - when are you open?
        - opening hours
    - intent: book
      metadata: {sentiment: neutral}
      examples:
      - text: |
          book a table in [Berlin]{"entity": "city", "role": "destination"}
        metadata: {source: web}
      - text: table for [two](number:2)
    - synonym: New York City
      examples: |
        - NYC
        - nyc
        - the big apple
    - regex: zipcode
      examples: |
        - [0-9]{5}
    - lookup: city
      examples: |
        - Berlin
        - Paris
    responses:
      utter_faq/ask_hours:
      - text: We are open 9 to 5.
"""


def test_all_item_kinds(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": NLU})
    data = load_nlu([tmp_path / "nlu.yml"])
    assert [e.text for e in data.examples if e.intent == "greet"] == ["hi", "hello Anna", "hey there"]
    hours = [e for e in data.examples if e.intent == "faq"]
    assert [(e.response_key, e.full_intent) for e in hours] == [("ask_hours", "faq/ask_hours")] * 2
    book = [e for e in data.examples if e.intent == "book"]
    assert book[0].text == "book a table in Berlin"
    assert (book[0].entities[0].role, book[0].entities[0].value) == ("destination", "Berlin")
    assert book[1].text == "table for two" and book[1].entities[0].value == "2"
    assert data.synonyms == {"nyc": "New York City", "the big apple": "New York City", "two": "2"}
    assert [(r.name, r.pattern) for r in data.regexes] == [("zipcode", "[0-9]{5}")]
    assert data.lookups == {"city": ["Berlin", "Paris"]}
    assert sorted(data.intents) == ["book", "faq", "greet"]


def test_responses_in_data_files_are_returned(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": NLU})
    out = NLUFiles()
    parse_nlu_source(Source.read(tmp_path / "nlu.yml"), out, [])
    assert out.responses["utter_faq/ask_hours"][0].text == "We are open 9 to 5."
    assert out.response_origin["utter_faq/ask_hours"] == f"{tmp_path / 'nlu.yml'}:33"


def test_lookup_table_from_a_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "data/nlu.yml": "nlu:\n- lookup: city\n  examples: lookups/cities.txt\n",
            "data/lookups/cities.txt": "Berlin\n\nParis\n  Rome  \n",
        },
    )
    assert load_nlu([tmp_path / "data" / "nlu.yml"]).lookups == {"city": ["Berlin", "Paris", "Rome"]}


def test_missing_lookup_file(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": "nlu:\n- lookup: city\n  examples: cities.txt\n"})
    with pytest.raises(FormatError) as err:
        load_nlu([tmp_path / "nlu.yml"])
    assert err.value.line == 3 and "cities.txt" in err.value.reason


def test_bad_example_lines_are_skipped_with_warnings(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": "nlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n    -\n"})
    warnings: list[str] = []
    data = load_nlu([tmp_path / "nlu.yml"], warnings)
    assert [e.text for e in data.examples] == ["hi"]
    path = tmp_path / "nlu.yml"
    assert warnings == [
        f"{path}:5: intent 'greet': example 'hello' does not start with '- ' and is skipped",
        f"{path}:6: intent 'greet': an empty example is skipped",
    ]


def test_bad_annotation_names_the_example_line(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": 'nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hi [x]{"entity": }\n'})
    with pytest.raises(FormatError) as err:
        load_nlu([tmp_path / "nlu.yml"])
    assert err.value.line == 5 and "not valid JSON" in err.value.reason


def test_misspelt_examples_key(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": "nlu:\n- intent: greet\n  exmples: |\n    - hi\n"})
    with pytest.raises(FormatError) as err:
        load_nlu([tmp_path / "nlu.yml"])
    assert err.value.line == 3 and "unknown key 'exmples'" in err.value.reason


def test_invalid_regex(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": "nlu:\n- regex: bad\n  examples: |\n    - ([a-z]\n"})
    with pytest.raises(FormatError) as err:
        load_nlu([tmp_path / "nlu.yml"])
    assert err.value.line == 4 and "regex 'bad'" in err.value.reason


def test_wrong_version_in_nlu_file(tmp_path: Path) -> None:
    write(tmp_path, {"nlu.yml": 'version: "4.0"\nnlu: []\n'})
    with pytest.raises(FormatError) as err:
        load_nlu([tmp_path / "nlu.yml"])
    assert err.value.line == 1
