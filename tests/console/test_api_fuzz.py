"""Schema-based fuzzing of the whole HTTP API: every operation in ``/openapi.json``, as an
anonymous caller and as a signed-in admin, on SQLite and PostgreSQL, over the real demo bot.

Schemathesis generates requests from the app's own schema: valid ones, and ones that break
it (integers past 64 bits, ``null`` where a value is required, over-long strings, wrong
types). Every answer must be a success or a client error, never a 5xx, and its status,
content type, headers and body must be what the schema documents (errors included: the
app documents its error shape on every operation).

The cases of one operation are generated first (Hypothesis: a bounded number of examples,
no example database, no shrinking), then sent in this test's own event loop through
``httpx.ASGITransport``: the engine and its database connections live in that loop, so the
requests must too. A finding lists the request as a curl command to replay it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from concierge.compose import Services
from console.app import create_app
from console.security.platform import ConsolePlatform
from console.security.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_for
from tests.console.conftest import add_user
from tests.console.workspace_support import demo_services, demo_settings, offline, postgres_schema

# Bounded: ~55 operations x 2 modes x (20 as the admin + 10 anonymous) is ~3,300 requests per
# backend. Anonymous callers mostly meet the sign-in check, so fewer examples say as much.
EXAMPLES = int(os.environ.get("CONCIERGE_FUZZ_EXAMPLES", "20"))
ANONYMOUS_EXAMPLES = max(1, EXAMPLES // 2)
# Ending the caller's own session is what this operation is for; fuzzing it as the admin
# would only sign the run out.
SKIP_AS_ADMIN = {("POST", "/console/logout")}
# 5xx is asserted by this test itself (with the replay command). Whether a generated request
# is "valid" cannot be judged from the schema alone here: the anonymous run gets 401 for
# valid data, and a valid-looking body can still break a rule (an unknown agent, a merge).
EXCLUDED_CHECKS = [not_a_server_error, positive_data_acceptance, negative_data_rejection]

Headers = Callable[[], Awaitable[dict[str, str]]]


@dataclass
class Findings:
    """Server errors and schema mismatches, one entry each, and how many requests were sent."""

    server_errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    sent: int = 0


def cases_of(operation: Any, mode: GenerationMode, examples: int) -> list[Any]:
    """Up to ``examples`` cases of ``operation`` in ``mode``, generated but not sent."""
    found: list[Any] = []

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        found.append(case)

    try:
        collect()
    except Unsatisfiable:  # nothing in the operation can be broken (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, operation.label
    return found


def as_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis's requests-style arguments for a case, as httpx's."""
    out: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies") or None,
    }
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    if kwargs.get("files"):
        out["files"] = kwargs["files"]
    return out


async def fuzz(client: httpx.AsyncClient, sign_in: Headers | None, skip: set[tuple[str, str]]) -> Findings:
    """Every operation's cases through ``client``. ``sign_in`` (a signed-in run) makes a session
    and returns its headers; it is called again whenever the fuzzer signed the caller out."""
    schema = schemathesis.openapi.from_dict((await client.get("/openapi.json")).json())
    findings = Findings()
    headers = await sign_in() if sign_in else {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in skip:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for case in cases_of(operation, mode, EXAMPLES if sign_in else ANONYMOUS_EXAMPLES):
                kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=dict(headers))
                response = await client.request(**as_httpx(kwargs))
                findings.sent += 1
                where = f"{operation.label} [{mode.value}] -> {response.status_code}"
                if response.status_code >= 500:
                    replay = case.as_curl_command(base_url=str(client.base_url))
                    findings.server_errors.append(f"{where}: {response.text[:200]}\n  {replay}")
                else:
                    try:
                        case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)
                    except (FailureGroup, AssertionError) as exc:
                        findings.mismatches.append(f"{where}: {exc}"[:800])
                if sign_in is not None and response.status_code == 401:  # e.g. its own password reset
                    headers = await sign_in()
    return findings


def fuzz_client(app: FastAPI) -> httpx.AsyncClient:
    """An in-process client that turns the app's unhandled exceptions into 500s (findings)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture(params=["sqlite", "postgresql"])
async def fuzz_engine(
    request: pytest.FixtureRequest,
    model_dir: Path,
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Services]:
    """The demo bot's services on each backend (PostgreSQL: a throwaway schema)."""
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "workspace_chroma")
    if request.param == "sqlite":
        async with demo_services(demo_settings(model_dir, tmp_path)) as services:
            yield services
        return
    async with (
        postgres_schema(postgres_url) as url,
        demo_services(demo_settings(model_dir, tmp_path, database_url=url)) as services,
    ):
        yield services


async def admin_session(app: FastAPI, admin_id: int, client: httpx.AsyncClient) -> dict[str, str]:
    """A fresh admin session on ``client``, made directly (the fuzzer may have reset the admin's
    password or ended their sessions); returns the CSRF header that goes with it."""
    platform: ConsolePlatform = await app.state.console.ready()
    token = await platform.sessions.create(admin_id)
    client.cookies.set(SESSION_COOKIE, token)
    return {CSRF_HEADER: csrf_for(token)}


def summary(name: str, found: Findings) -> list[str]:
    return [f"{name}: {found.sent} requests", *found.server_errors, *found.mismatches]


@pytest.mark.timeout(900)  # the module trains the demo bot once, then ~3,300 requests per backend
async def test_fuzzing_the_api_finds_no_server_error_and_no_schema_mismatch(
    fuzz_engine: Services, model_dir: Path, tmp_path: Path
) -> None:
    app = create_app(demo_settings(model_dir, tmp_path), services=fuzz_engine)
    platform: ConsolePlatform = await app.state.console.ready()
    admin_id = await add_user(platform, "root", "admin")
    try:
        async with fuzz_client(app) as anonymous:
            as_anonymous = await fuzz(anonymous, None, set())
        async with fuzz_client(app) as admin:
            as_admin = await fuzz(admin, lambda: admin_session(app, admin_id, admin), SKIP_AS_ADMIN)
    finally:
        await app.state.console.close()
    report = "\n".join(summary("anonymous", as_anonymous) + summary("admin", as_admin))
    assert as_anonymous.sent > 0 and as_admin.sent > 0
    assert not as_anonymous.server_errors and not as_admin.server_errors, report
    assert not as_anonymous.mismatches and not as_admin.mismatches, report
