"""endpoints.yml loads into :class:`Endpoints` with ${ENV_VAR} interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.loaders import Endpoints, load_endpoints

from .helpers import write

ENDPOINTS = """
    action_endpoint:
      url: "http://${ACTION_HOST}:5055/webhook"
      token: ${ACTION_TOKEN}
    tracker_store:
      type: SQL
      dialect: postgresql
      url: localhost
      port: 5432
      username: ${DB_USER}
      db: rasa
    lock_store:
      type: redis
      url: localhost
    nlg:
    models:
      url: http://models/latest.tar.gz
      wait_time_between_pulls: 10
    custom_thing:
      url: http://custom
"""


def test_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"endpoints.yml": ENDPOINTS})
    monkeypatch.setenv("ACTION_HOST", "actions.internal")
    monkeypatch.setenv("ACTION_TOKEN", "s3cret")
    monkeypatch.setenv("DB_USER", "bot")
    endpoints = load_endpoints(tmp_path / "endpoints.yml")
    assert endpoints.action_endpoint is not None
    assert endpoints.action_endpoint.url == "http://actions.internal:5055/webhook"
    assert endpoints.action_endpoint.token == "s3cret"
    store = endpoints.tracker_store
    assert store is not None and store.type == "SQL"
    assert (store.option("username"), store.option("port"), store.option("dialect")) == (
        "bot",
        5432,
        "postgresql",
    )
    assert endpoints.lock_store is not None and endpoints.lock_store.type == "redis"
    assert endpoints.nlg is None
    assert endpoints.models is not None and endpoints.models.wait_time_between_pulls == 10
    assert endpoints.other["custom_thing"].url == "http://custom"


def test_explicit_environment_mapping(tmp_path: Path) -> None:
    write(tmp_path, {"endpoints.yml": "action_endpoint:\n  url: ${URL}\n  actions_module: actions\n"})
    endpoints = load_endpoints(tmp_path / "endpoints.yml", environ={"URL": "http://x"})
    assert endpoints.action_endpoint is not None
    assert (endpoints.action_endpoint.url, endpoints.action_endpoint.actions_module) == (
        "http://x",
        "actions",
    )


def test_unset_variable_is_an_error_with_line(tmp_path: Path) -> None:
    write(tmp_path, {"endpoints.yml": ENDPOINTS})
    with pytest.raises(FormatError) as err:
        load_endpoints(tmp_path / "endpoints.yml", environ={"ACTION_HOST": "h"})
    assert err.value.line == 3 and "ACTION_TOKEN" in err.value.reason


def test_missing_file_gives_empty_endpoints(tmp_path: Path) -> None:
    assert load_endpoints(tmp_path / "endpoints.yml") == Endpoints()
