"""The analytics API and page for managers over the read models: the report, its CSV, the
drill-down, range checks, and knowledge gaps bounded by both ends of the range."""

from __future__ import annotations

import csv
import datetime as dt
import io

from fastapi import FastAPI

from bot.events import BotUttered, HandoffRequested, HandoffStatusChanged, UserUttered
from console.security.models import Role
from console.security.platform import ConsolePlatform
from handoff.projections import register_handoff_projections
from knowledge.gaps import GapLog, gap_event, register_gap_projection
from tests.console.conftest import client_for, sign_in

DAY = dt.date(2026, 4, 10)
T = dt.datetime.combine(DAY, dt.time(10), dt.UTC).timestamp()
RANGE = {"start": "2026-04-10", "end": "2026-04-10"}


async def write(platform: ConsolePlatform) -> None:
    """A VIP complaint answered by Anna in 45 s, and a question the bot answered."""
    await register_handoff_projections(platform.store)
    await platform.store.append(
        "widget:vip",
        [
            UserUttered(text="I want to complain", timestamp=T),
            HandoffRequested(reason="rule:vip_complaint", timestamp=T + 1),
            HandoffStatusChanged(
                from_status="bot", to_status="queued", actor="bot", metadata={"tier": "VIP"}, timestamp=T + 1
            ),
            BotUttered(text="Anna here", metadata={"sender": "agent", "agent_id": "anna"}, timestamp=T + 46),
        ],
    )
    await platform.store.append(
        "widget:faq", [UserUttered(text="hours?", timestamp=T + 5), BotUttered(text="8-21", timestamp=T + 6)]
    )


async def test_report_for_a_range(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    await write(platform)
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])
        report = await client.get("/api/analytics/report", params={**RANGE, "grouping": "week"})
        assert report.status_code == 200
        body = report.json()
        assert body["containment"] == {"conversations": 2, "contained": 1, "rate": 0.5}
        assert body["outcomes"]["assisted"] == 1 and body["grouping"] == "week"
        vip = next(t for t in body["first_response"] if t["tier"] == "VIP")
        assert (vip["median_seconds"], vip["within_sla_rate"], vip["sla_seconds"]) == (45.0, 1.0, 60)
        assert body["handoff_reasons"] == [
            {"reason": "rule:vip_complaint", "label": "Rule: VIP complaint", "count": 1}
        ]
        assert [row["key"] for row in body["breakdowns"]["period"]] == ["2026-W15"]
        other_day = await client.get(
            "/api/analytics/report", params={"start": "2026-04-11", "end": "2026-04-12"}
        )
        assert other_day.json()["containment"]["conversations"] == 0
        default = await client.get("/api/analytics/report")
        assert (
            default.status_code == 200
            and default.json()["range"]["end"] == dt.datetime.now(dt.UTC).date().isoformat()
        )
        backwards = await client.get(
            "/api/analytics/report", params={"start": "2026-04-12", "end": "2026-04-10"}
        )
        assert backwards.status_code == 422 and backwards.json()["message"] == "start must not be after end"
        too_long = await client.get(
            "/api/analytics/report", params={"start": "2024-01-01", "end": "2026-04-10"}
        )
        assert too_long.status_code == 422
        assert (await client.get("/api/analytics/report", params={"start": "yesterday"})).status_code == 422
        assert (await client.get("/api/analytics/report", params={"format": "xml"})).status_code == 422
        assert (await client.get("/api/analytics/report", params={"grouping": "year"})).status_code == 422
        assert (await client.get("/api/analytics/gaps")).json() == []  # no knowledge base in this app
        page = await client.get("/console/analytics")
        assert page.status_code == 200 and 'src="/static/console-analytics.js"' in page.text


async def test_the_report_as_csv_and_its_drill_down(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    await write(platform)
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])
        exported = await client.get("/api/analytics/report", params={**RANGE, "format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert 'filename="conversations-2026-04-10-2026-04-10.csv"' in exported.headers["content-disposition"]
        rows = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(exported.text))}
        assert set(rows) == {"widget:vip", "widget:faq"}
        assert (rows["widget:vip"]["outcome"], rows["widget:vip"]["first_human_response_seconds"]) == (
            "assisted",
            "45",
        )
        assert (rows["widget:faq"]["outcome"], rows["widget:faq"]["tier"]) == ("contained", "Standard")
        behind = await client.get("/api/analytics/conversations", params={**RANGE, "outcome": "contained"})
        assert [r["conversation_id"] for r in behind.json()] == ["widget:faq"]
        by_agent = await client.get("/api/analytics/conversations", params={**RANGE, "tier": "VIP"})
        assert [r["handoff_reason"] for r in by_agent.json()] == ["rule:vip_complaint"]
        wrong = await client.get("/api/analytics/conversations", params={"outcome": "happy"})
        assert wrong.status_code == 422


async def test_gaps_respect_both_ends_of_the_range(platform: ConsolePlatform) -> None:
    await register_gap_projection(platform.store)
    for question, day in [("do you do tattoo removal?", 9), ("is there a pool?", 10), ("wifi password?", 12)]:
        at = dt.datetime(2026, 4, day, 12, tzinfo=dt.UTC).timestamp()
        event = gap_event(question, "en", "no_answer", 0.2).model_copy(update={"timestamp": at})
        await platform.store.append("widget:x", [event])
    log = GapLog(platform.store.engine)
    found = await log.report(
        since=dt.datetime(2026, 4, 10, tzinfo=dt.UTC), until=dt.datetime(2026, 4, 11, tzinfo=dt.UTC)
    )
    assert [g.question for g in found] == ["is there a pool?"]


async def test_quality_by_agent_in_the_report_and_its_csv(
    console_app: FastAPI, platform: ConsolePlatform, role_users: dict[Role, str]
) -> None:
    """Two resolved conversations of Anna's (one model reply, one poor) and one still open
    of Olga's: the report's quality rows are the bot's and Anna's means, Olga has none yet."""
    await register_handoff_projections(platform.store)

    def handed(agent: str, text: str, at: float) -> list[object]:
        return [
            UserUttered(text="Hello, when are you open on Sunday?", timestamp=at),
            BotUttered(text="Hello! Let me ask a person.", metadata={"sender": "bot"}, timestamp=at + 1),
            HandoffStatusChanged(from_status="bot", to_status="queued", actor="bot", timestamp=at + 2),
            HandoffStatusChanged(
                from_status="queued",
                to_status="assigned",
                actor=agent,
                metadata={"agent_id": agent},
                timestamp=at + 3,
            ),
            BotUttered(text=text, metadata={"sender": "agent", "agent_id": agent}, timestamp=at + 4),
        ]

    def resolve(agent: str, at: float) -> HandoffStatusChanged:
        return HandoffStatusChanged(from_status="assigned", to_status="resolved", actor=agent, timestamp=at)

    good = "Hello, we are open 10:00 to 18:00 on Sunday. Have a nice day!"
    poor = "whatever, as i said we are closed"
    await platform.store.append("widget:q1", [*handed("anna", good, T), resolve("anna", T + 5)])  # type: ignore[list-item]
    await platform.store.append("widget:q2", [*handed("anna", poor, T + 60), resolve("anna", T + 65)])  # type: ignore[list-item]
    await platform.store.append("widget:q3", handed("olga", good, T + 120))  # type: ignore[arg-type]
    async with client_for(console_app) as client:
        await sign_in(client, role_users["manager"])
        body = (await client.get("/api/analytics/report", params=RANGE)).json()
        bot, anna = body["quality"]
        assert (bot["key"], bot["speaker"], bot["conversations"]) == ("bot", "bot", 2)
        assert (anna["key"], anna["speaker"], anna["conversations"]) == ("anna", "agent", 2)
        # Anna: greeted, closed and answered once, dismissive and sloppy once; empathy never applied
        assert anna["categories"]["greeting"] == 0.5 and anna["categories"]["closing"] == 0.5
        assert anna["categories"]["tone"] == 0.5 and anna["categories"]["empathy"] is None
        assert anna["categories"]["solution_offered"] == 0.5
        assert bot["categories"]["greeting"] == 1.0 and bot["overall"] is not None
        table = await client.get("/api/analytics/report/quality.csv", params=RANGE)
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert [(r["key"], r["conversations"], r["greeting"], r["empathy"]) for r in rows] == [
            ("bot", "2", "1", ""),
            ("anna", "2", "0.5", ""),
        ]
        elsewhere = await client.get(
            "/api/analytics/report", params={"start": "2026-04-11", "end": "2026-04-11"}
        )
        assert elsewhere.json()["quality"] == []
