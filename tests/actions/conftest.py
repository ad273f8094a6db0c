"""Fixtures for action tests: real domains, a conversation driven like the engine drives
it, and in-process action modules written to a temporary directory."""

from __future__ import annotations

import itertools
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from action_testkit import Conversation

from actions.registry import ActionRegistry
from bot.domain import Domain
from bot.loaders import load_domain
from bot.nlg import ResponseRenderer

_module_numbers = itertools.count()


@pytest.fixture(scope="session")
def helpdesk_domain(eval_dir: Path) -> Domain:
    """The public helpdesk-assistant bot's domain, loaded by our Rasa loader."""
    return load_domain([eval_dir / "rasa-bots" / "helpdesk-assistant" / "domain.yml"])


@pytest.fixture
def domain_from_yaml(tmp_path: Path) -> Callable[[str], Domain]:
    """Load a domain written as Rasa YAML (dedented)."""

    def load(text: str) -> Domain:
        path = tmp_path / f"domain_{next(_module_numbers)}.yml"
        path.write_text(textwrap.dedent(text))
        return load_domain([path])

    return load


@pytest.fixture
def actions_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write Python source as an importable module; returns its (unique) module name."""
    folder = tmp_path / "action_modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))

    def write(source: str) -> str:
        name = f"concierge_test_actions_{next(_module_numbers)}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


@pytest.fixture
def conversation() -> Callable[..., Conversation]:
    """Start a conversation over a registry (``conversation(registry)``)."""
    return Conversation


@pytest.fixture
def registry_for() -> Callable[..., ActionRegistry]:
    """An action registry over a domain, with a seeded renderer (``registry_for(domain, modules=[...])``)."""

    def make(domain: Domain, **kwargs: Any) -> ActionRegistry:
        return ActionRegistry(domain, ResponseRenderer(domain, seed=7), **kwargs)

    return make


@pytest.fixture(scope="session")
def rasa_sdk_python(repo_dir: Path) -> Path:
    """The Python of the separate venv with the real rasa-sdk (``CONCIERGE_RASA_SDK_PYTHON``)."""
    path = Path(
        os.environ.get("CONCIERGE_RASA_SDK_PYTHON", repo_dir / ".venv-rasa-sdk" / "bin" / "python")
    ).absolute()
    if not path.is_file():
        pytest.fail(f"the rasa-sdk venv's python is missing at {path} (set CONCIERGE_RASA_SDK_PYTHON)")
    return path
