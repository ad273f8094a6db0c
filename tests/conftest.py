"""Shared fixtures: real PostgreSQL and Redis on this machine, paths to public eval data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_EVAL = Path(os.environ.get("CONCIERGE_EVAL_DIR", REPO.parent / "shared" / "eval"))
POSTGRES_URL = os.environ.get("CONCIERGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CONCIERGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    """The public evaluation data (``../shared/eval``, kept outside the repository).

    A fresh clone without it skips the tests that need it; CI (``CI=true``) requires it,
    so a missing copy there fails loudly instead of passing with less.
    """
    if not SHARED_EVAL.is_dir():
        message = f"public eval data not found at {SHARED_EVAL} (set CONCIERGE_EVAL_DIR)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_EVAL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL
