"""No personal data in log lines: uvicorn's access log without query strings or ids that carry
phones and e-mails, and every other record masked, whoever logged it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from bot.redact import conversation_ref, mask_text, masked_path
from privacy import logs

PHONE_FORMS = ("+48601234567", "48601234567", "601234567", "601 234 567", "+48 601 234 567", "601-234-567")


@pytest.fixture
def redacted() -> Iterator[None]:
    logs.install()
    try:
        yield
    finally:
        logs.uninstall()


def test_paths_lose_query_strings_and_personal_segments() -> None:
    assert masked_path("/api/clients?q=Quennell+601234567") == "/api/clients"
    assert (
        masked_path("/api/workspace/conversations/whatsapp:+48601234567/lines?after=3")
        == "/api/workspace/conversations/***/lines"
    )
    assert (
        masked_path("/api/privacy/clients/ottilie%40example.org/export") == "/api/privacy/clients/***/export"
    )
    assert (
        masked_path("/api/privacy/clients/%2B48%20601%20234%20567/erase") == "/api/privacy/clients/***/erase"
    )
    # ordinary paths, client ids and sequence numbers stay readable
    assert (
        masked_path("/api/clients/4f9a0c2e11d84b6f9d0e2b7c5a1e3f00")
        == "/api/clients/4f9a0c2e11d84b6f9d0e2b7c5a1e3f00"
    )
    assert masked_path("/api/media/whatsapp_cloud/x/12/0") == "/api/media/whatsapp_cloud/x/12/0"


def test_text_loses_phones_and_addresses_but_keeps_dates_and_addresses_of_machines() -> None:
    for phone in PHONE_FORMS:
        assert mask_text(f"call {phone} now") == "call *** now", phone
    assert mask_text("from Ottilie.Q@example.org:") == "from ***:"
    assert mask_text("on 2026-12-07 at 13:05 from 127.0.0.1, 200 rows") == (
        "on 2026-12-07 at 13:05 from 127.0.0.1, 200 rows"
    )
    ref = conversation_ref("whatsapp:+48601234567")
    assert ref.startswith("whatsapp:#") and "601" not in ref
    assert ref == conversation_ref("whatsapp:+48601234567") != conversation_ref("whatsapp:+48602345678")


def test_records_are_masked_whoever_logs_them(caplog: pytest.LogCaptureFixture, redacted: None) -> None:
    caplog.set_level(logging.INFO)
    log = logging.getLogger("some.module")
    log.info("turn failed for %s", "email:ottilie.q@example.org")
    try:
        raise ValueError("not a phone number: '+48 601 234 567'")
    except ValueError:
        log.exception("parsing %s failed", "whatsapp:+48601234567")
    text = caplog.text
    assert "ottilie" not in text.lower() and "601" not in text
    assert "turn failed for email:***" in text and "ValueError: not a phone number: '***'" in text


async def test_the_access_log_of_a_served_app(caplog: pytest.LogCaptureFixture, redacted: None) -> None:
    app = FastAPI()

    @app.get("/api/clients")
    async def search(q: str = "") -> dict[str, str]:
        return {"q": q}

    @app.get("/api/workspace/conversations/{conversation_id}/lines")
    async def lines(conversation_id: str) -> dict[str, str]:
        return {"id": conversation_id}

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="info", lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # pytest owns signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # the server failed to start: raise its error
        await asyncio.sleep(0.01)
    access = logging.getLogger("uvicorn.access")  # uvicorn's config stops it propagating to root
    access.addHandler(caplog.handler)
    try:
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient(base_url=url) as client:
            assert (
                await client.get("/api/clients", params={"q": "Quennell +48 601 234 567"})
            ).status_code == 200
            path = "/api/workspace/conversations/email:ottilie.q@example.org/lines"
            assert (await client.get(path)).status_code == 200
    finally:
        access.removeHandler(caplog.handler)
        server.should_exit = True
        await task
    lines_logged = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines_logged) == 2, lines_logged
    assert '"GET /api/clients HTTP/1.1" 200' in lines_logged[0]
    assert '"GET /api/workspace/conversations/***/lines HTTP/1.1" 200' in lines_logged[1]
    joined = "\n".join(lines_logged).lower()
    assert "quennell" not in joined and "601" not in joined and "ottilie" not in joined
