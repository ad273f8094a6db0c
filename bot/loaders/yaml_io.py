"""Reading Rasa's YAML files with line numbers, so every error can point at file and line.

The round-trip loader of ruamel.yaml keeps each mapping key's and sequence item's
position (``CommentedMap.lc``); :class:`Source` couples that with the file path so a
loader can say ``raise src.error("unknown step key 'acton'", node, key)`` and the user
sees ``data/stories.yml:14: story 'y' step 3: unknown step key 'acton'``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.errors import FormatError

# Rasa's training-data format versions we read ("2.0" projects still load in Rasa 3).
MIN_VERSION = (2, 0)
LATEST_VERSION = "3.1"
MAX_VERSION = (3, 1)


def _parser() -> YAML:
    # YAML 1.2 like Rasa: ``value: yes`` stays the string "yes", not a boolean.
    parser = YAML(typ="rt")
    parser.version = (1, 2)
    return parser


def parse_yaml_text(text: str, path: Path | str) -> Any:
    """Parse YAML text; syntax errors become a FormatError with the 1-based line."""
    try:
        return _parser().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise FormatError(str(path), f"invalid YAML: {problem}", line) from exc
    except YAMLError as exc:
        raise FormatError(str(path), f"invalid YAML: {exc}") from exc


def read_yaml(path: Path) -> Any:
    """Read and parse a YAML file (UTF-8); unreadable files become a FormatError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(str(path), f"not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise FormatError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    return parse_yaml_text(text, path)


def line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of ``node[key]`` (a mapping key or a sequence index), or of ``node`` itself."""
    if not isinstance(node, CommentedBase):
        return None
    try:
        if key is None:
            return node.lc.line + 1
        if isinstance(node, Mapping):
            return node.lc.key(key)[0] + 1
        return node.lc.item(key)[0] + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return node.lc.line + 1 if node.lc.line is not None else None


def plain(value: Any) -> Any:
    """Turn ruamel's round-trip types (CommentedMap, ScalarFloat, ...) into plain Python values."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    return value


def is_scalar(value: Any) -> bool:
    """True for text, numbers, booleans and None (anything that is not a mapping or list)."""
    return isinstance(value, str) or not isinstance(value, Mapping | Sequence)


def describe(value: Any) -> str:
    """A short human name for a YAML value's type, for error messages."""
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, str):
        return f"the text {str(value)!r}"
    if isinstance(value, Sequence):
        return "a list"
    return f"the value {plain(value)!r}"


@dataclass(frozen=True)
class Source:
    """One parsed YAML file: its path and root node, plus error helpers that know lines."""

    path: Path
    root: Any

    @classmethod
    def read(cls, path: Path) -> Source:
        """Read ``path``; an empty file is an empty mapping."""
        root = read_yaml(path)
        return cls(path, {} if root is None else root)

    def error(self, message: str, node: Any = None, key: Any = None) -> FormatError:
        """A FormatError pointing at ``node[key]`` (or ``node``) in this file."""
        return FormatError(str(self.path), message, line_of(node, key) if node is not None else None)

    def fail(self, message: str, node: Any = None, key: Any = None) -> NoReturn:
        """Raise :meth:`error`."""
        raise self.error(message, node, key)

    def where(self, node: Any, key: Any = None) -> str:
        """``path:line`` for a node, used as a story's ``source``."""
        line = line_of(node, key)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def top(self) -> Mapping[str, Any]:
        """The root mapping; anything else at the top of a project file is an error."""
        if not isinstance(self.root, Mapping):
            self.fail(
                f"expected a mapping of keys at the top of the file, found {describe(self.root)}", self.root
            )
        return self.root

    def mapping(self, parent: Any, key: Any, what: str) -> Mapping[str, Any]:
        """``parent[key]`` which must be a mapping (None counts as empty)."""
        value = parent[key]
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(f"{what} must be a mapping, found {describe(value)}", parent, key)
        return value

    def seq(self, parent: Any, key: Any, what: str) -> Sequence[Any]:
        """``parent[key]`` which must be a list (None counts as empty)."""
        value = parent[key]
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.fail(f"{what} must be a list, found {describe(value)}", parent, key)
        return value

    def text(self, parent: Any, key: Any, what: str) -> str:
        """``parent[key]`` which must be a non-empty scalar; numbers are accepted as text."""
        value = parent[key]
        if not is_scalar(value) or value is None or isinstance(value, bool):
            self.fail(f"{what} must be a name, found {describe(value)}", parent, key)
        text = str(value).strip()
        if not text:
            self.fail(f"{what} must not be empty", parent, key)
        return text

    def check_keys(self, node: Mapping[str, Any], allowed: set[str], what: str) -> None:
        """Reject keys Rasa's schema does not know (typos like ``acton``) with their line."""
        for key in node:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail(f"{what}: unknown key {key!r} (expected one of: {known})", node, key)

    def check_version(self) -> str:
        """The file's ``version`` (missing means the latest); versions outside 2.0-3.1 are errors."""
        top = self.top()
        if "version" not in top:
            return LATEST_VERSION
        raw = top["version"]
        text = str(plain(raw)).strip()
        parts = text.split(".")
        try:
            number = (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
        except ValueError:
            self.fail(f'version {text!r} is not a version number like "3.1"', top, "version")
        if not MIN_VERSION <= number <= MAX_VERSION:
            self.fail(
                f"unsupported format version {text!r}: "
                f'Rasa formats "2.0" to "{LATEST_VERSION}" are supported',
                top,
                "version",
            )
        return f"{number[0]}.{number[1]}"


def version_tuple(version: str) -> tuple[int, int]:
    """``"3.1"`` -> ``(3, 1)``; for comparisons like ``< (3, 0)``."""
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, directories replaced by their YAML files (recursively)."""
    out: list[Path] = []
    for path in map(Path, paths):
        out.extend(yaml_files(path) if path.is_dir() else [path])
    return out


def yaml_files(directory: Path) -> list[Path]:
    """Every ``.yml``/``.yaml`` file under ``directory``, sorted, skipping hidden folders."""
    found = [
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.suffix in (".yml", ".yaml")
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]
    return sorted(found)
