"""``/metrics``: turns counted at the app's edge, the shared figures read from the database,
scraped over HTTP with an API token and parsed with prometheus-client's own parser."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.channels.outbox import outbox_insert
from bot.channels.tables import outbox
from bot.models import InboundMessage, OutboundMessage
from concierge.compose import Services
from console.app import create_app
from console.security.platform import ConsolePlatform
from console.services.operations import database_families, exposition
from handoff.config import HandoffConfig
from tests.console.conftest import add_user, client_for, sign_in
from tests.console.routes.test_token_routes import bearer, make_token
from tests.console.workspace_support import demo_settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by name and sorted labels (the official parser)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def failed_telegram_row(platform: ConsolePlatform) -> None:
    """An outbox row the delivery worker gave up on (a channel error)."""
    message = OutboundMessage(channel="telegram", recipient_id="1001", text="hi", sender="agent")
    async with platform.store.engine.begin() as conn:
        await conn.execute(
            outbox_insert(conn.dialect.name, [("telegram:1001:seq9", message)], dt.datetime.now(dt.UTC))
        )
        await conn.execute(
            update(outbox).values(status="failed", last_error="403 Forbidden: bot was blocked")
        )


async def test_metrics_are_scraped_with_a_token_and_parse(
    services: Services, model_dir: Path, tmp_path: Path
) -> None:
    app = create_app(demo_settings(model_dir, tmp_path), services=services)
    platform: ConsolePlatform = await app.state.console.ready()
    await add_user(platform, "root", "admin")
    try:
        for n, text in enumerate(["hello", "I want to talk to a person"]):
            await app.state.handler.handle(
                InboundMessage(channel="rest", sender_id="ana", text=text, message_id=f"m-{n}")
            )
        await failed_telegram_row(platform)
        async with client_for(app) as admin:
            csrf = await sign_in(admin, "root")
            scraper = str((await make_token(admin, csrf, "prometheus", ["metrics:read"]))["token"])
            reader = str((await make_token(admin, csrf, "bi", ["analytics:read"]))["token"])
        async with client_for(app) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 401
            assert (await anonymous.get("/metrics", headers=bearer(reader))).status_code == 403
            scraped = await anonymous.get("/metrics", headers=bearer(scraper))
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        found = samples(scraped.text)
        assert found[("concierge_turns_total", (("channel", "rest"), ("result", "ok")))] == 2
        assert found[("concierge_turn_seconds_count", (("channel", "rest"),))] == 2
        assert found[("concierge_turn_seconds_bucket", (("channel", "rest"), ("le", "+Inf")))] == 2
        assert found[("concierge_handed_off_conversations_total", (("reason", "client_request"),))] == 1
        depth = {labels: v for (name, labels), v in found.items() if name == "concierge_queue_depth"}
        assert sum(depth.values()) == 1 and len(depth) == 3  # one waiting, every tier reported
        assert all(v == 0 for (name, _), v in found.items() if name == "concierge_sla_breaches")
        assert found[("concierge_outbox_rows", (("channel", "telegram"), ("status", "failed")))] == 1
        assert found[("concierge_channel_errors", (("channel", "telegram"),))] == 1
        assert "ana" not in scraped.text  # no sender, no text: counts only

        # ten minutes on, the waiting handoff is past every tier's SLA
        later = await database_families(platform.store, HandoffConfig(), now=time.time() + 600)
        breaches = {
            labels: v
            for (name, labels), v in samples(exposition(None, later).decode()).items()
            if name == "concierge_sla_breaches"
        }
        assert sum(breaches.values()) == 1
    finally:
        await app.state.console.close()
