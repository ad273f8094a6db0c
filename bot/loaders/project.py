"""A whole Rasa project directory -> :class:`Project`, discovered the way Rasa does.

``domain.yml`` (or a ``domain/`` directory), ``config.yml``, optional ``endpoints.yml``,
every ``.yml``/``.yaml`` file under ``data/`` classified by its top-level keys (one file
may hold ``nlu``, ``responses``, ``stories`` and ``rules`` together), and test stories
from ``tests/`` plus Rasa's ``test_*.yml`` convention inside ``data/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bot.config import BotConfig
from bot.domain import Domain
from bot.errors import FormatError
from bot.loaders.config import load_config
from bot.loaders.domain import load_domain
from bot.loaders.domain_merge import merge_responses
from bot.loaders.endpoints import Endpoints, load_endpoints
from bot.loaders.nlu import NLUFiles, parse_nlu_source
from bot.loaders.stories import parse_story_source
from bot.loaders.validate import consistency_warnings
from bot.loaders.yaml_io import Source, yaml_files
from bot.training_data import NLUData, StoryData

log = logging.getLogger(__name__)

_DATA_KEYS = {"nlu", "responses", "stories", "rules"}


def _list_of_mappings_with(value: Any, key: str) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) and key in v for v in value)


#: Concierge's own YAML files that live in ``data/`` beside Rasa's, recognised by their
#: shape (a top-level key holding a list of entries with a telling field), so they are
#: skipped quietly while a Rasa file with a misspelt key is still reported.
NON_RASA_FILES = {
    "agents": ("the agents of the handoff console (handoff/agents.py)", "id"),
    "tests": ("knowledge base golden questions (knowledge/golden.py)", "question"),
    "replies": ("canned replies of the agent console", "text"),
}


def concierge_data_file(top: Mapping[str, Any]) -> str | None:
    """What a non-Rasa Concierge file under ``data/`` is, or None if it is not one of them."""
    if set(top) & _DATA_KEYS:
        return None
    for key, (what, field) in NON_RASA_FILES.items():
        if _list_of_mappings_with(top.get(key), field):
            return what
    return None


class Project(BaseModel):
    """Everything a Rasa project directory defines, in our data models."""

    directory: Path
    domain: Domain
    nlu: NLUData
    stories: StoryData
    config: BotConfig
    endpoints: Endpoints = Field(default_factory=Endpoints)
    test_stories: StoryData = Field(default_factory=StoryData)
    warnings: list[str] = Field(default_factory=list, description="what Rasa would warn about, for the user")


def load_project(directory: Path) -> Project:
    """Load a Rasa project unchanged; malformed files raise :class:`FormatError` with file and line."""
    root = Path(directory)
    if not root.is_dir():
        raise FormatError(str(root), "project directory not found")
    warnings: list[str] = []
    domain = load_domain([find_domain(root)], warnings)
    config, config_notes = load_config(find_config(root))
    warnings.extend(config_notes)
    nlu, stories, test_stories = _load_data(root, warnings)
    for name, variations in nlu.responses.items():
        merge_responses(domain, {name: variations}, nlu.response_origin.get(name, "data"), warnings)
    warnings.extend(consistency_warnings(domain, nlu.data, stories))
    return Project(
        directory=root,
        domain=domain,
        nlu=nlu.data,
        stories=stories,
        config=config,
        endpoints=load_endpoints(root / "endpoints.yml"),
        test_stories=test_stories,
        warnings=warnings,
    )


def find_domain(root: Path) -> Path:
    """``domain.yml``/``domain.yaml`` or a ``domain/`` directory; FormatError if neither exists."""
    for candidate in (root / "domain.yml", root / "domain.yaml", root / "domain"):
        if candidate.exists():
            return candidate
    raise FormatError(str(root / "domain.yml"), "missing domain: expected domain.yml or a domain/ directory")


def find_config(root: Path) -> Path:
    """``config.yml``/``config.yaml``; FormatError if missing."""
    for candidate in (root / "config.yml", root / "config.yaml"):
        if candidate.is_file():
            return candidate
    raise FormatError(str(root / "config.yml"), "missing config: expected config.yml")


def _load_data(root: Path, warnings: list[str]) -> tuple[NLUFiles, StoryData, StoryData]:
    nlu, stories, tests = NLUFiles(), StoryData(), StoryData()
    data_dir = root / "data"
    if not data_dir.is_dir():
        warnings.append(f"{data_dir}: no data directory; the bot has no training data")
    for path in yaml_files(data_dir) if data_dir.is_dir() else []:
        src = Source.read(path)
        keys = set(src.top()) & _DATA_KEYS
        if not keys:
            known = concierge_data_file(src.top())
            if known is not None:
                log.debug("%s: %s, not Rasa training data; skipped", path, known)
            else:
                warnings.append(f"{path}: no nlu, responses, stories or rules key; the file is skipped")
            continue
        if keys & {"nlu", "responses"}:
            parse_nlu_source(src, nlu, warnings)
        if keys & {"stories", "rules"}:
            # Rasa keeps ``test_*.yml`` story files out of training: they are test stories.
            parse_story_source(src, tests if path.name.startswith("test_") else stories, warnings)
    tests_dir = root / "tests"
    for path in yaml_files(tests_dir) if tests_dir.is_dir() else []:
        src = Source.read(path)
        if isinstance(src.root, Mapping) and "stories" in src.root:
            parse_story_source(src, tests, warnings)
    return nlu, stories, tests
