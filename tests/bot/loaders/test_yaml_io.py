"""YAML reading keeps line numbers so errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.loaders.yaml_io import Source, line_of, plain, read_yaml

from .helpers import write


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "bad.yml": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
         - broken indentation
        """
        },
    )
    with pytest.raises(FormatError) as err:
        read_yaml(tmp_path / "bad.yml")
    assert err.value.path == str(tmp_path / "bad.yml")
    assert err.value.line == 6
    assert str(err.value).startswith(f"{tmp_path / 'bad.yml'}:6: invalid YAML")


def test_duplicate_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"dup.yml": "intents:\n- a\nintents:\n- b\n"})
    with pytest.raises(FormatError) as err:
        read_yaml(tmp_path / "dup.yml")
    assert err.value.line == 3


def test_line_of_keys_and_items(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yml": """
        slots:
          name:
            type: text
        list:
        - one
        - two
        """
        },
    )
    root = read_yaml(tmp_path / "a.yml")
    assert line_of(root, "slots") == 1
    assert line_of(root["slots"]["name"], "type") == 3
    assert line_of(root["list"], 1) == 6
    assert line_of({"plain": "dict"}, "plain") is None


def test_yaml_12_keeps_yes_as_text_like_rasa(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": "value: yes\nflag: true\nnum: 1.5\n"})
    assert plain(read_yaml(tmp_path / "a.yml")) == {"value": "yes", "flag": True, "num": 1.5}


@pytest.mark.parametrize("version", ['"2.0"', '"3.0"', '"3.1"', "3.1"])
def test_supported_versions(tmp_path: Path, version: str) -> None:
    write(tmp_path, {"a.yml": f"version: {version}\n"})
    assert Source.read(tmp_path / "a.yml").check_version() in ("2.0", "3.0", "3.1")


def test_missing_version_means_latest(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": "nlu: []\n"})
    assert Source.read(tmp_path / "a.yml").check_version() == "3.1"


@pytest.mark.parametrize("version", ['"1.0"', '"3.2"', '"4.0"', '"latest"'])
def test_other_versions_are_rejected_with_line(tmp_path: Path, version: str) -> None:
    write(tmp_path, {"a.yml": f"nlu: []\nversion: {version}\n"})
    with pytest.raises(FormatError) as err:
        Source.read(tmp_path / "a.yml").check_version()
    assert err.value.line == 2
    assert "version" in err.value.reason


def test_top_level_list_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": "- just\n- a list\n"})
    with pytest.raises(FormatError, match="expected a mapping"):
        Source.read(tmp_path / "a.yml").top()
