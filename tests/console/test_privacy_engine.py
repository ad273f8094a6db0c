"""Erase a real client after real conversations: the demo bot's VIP writes on WhatsApp, by
e-mail and from the website's widget (signed in), is recognised, greeted, handed off; then
an erase leaves nothing of her in any table or log line, and the other demo clients stay."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, inspect, select

from bot.engine import Engine
from bot.models import InboundMessage, VerifiedIdentity
from concierge.compose import Services
from privacy import logs
from privacy.service import PrivacyService
from tests.console.workspace_support import COMPLAINT, STANDARD_EMAIL, VIP_EMAIL, demo_settings

PHONE = "+48601234567"  # Aleksandra Wiśniewska in data/clients.csv (+48 601 234 567 / 22 598 41 07)
NEEDLES = (
    "+48601234567",
    "48601234567",
    "601234567",
    "601 234 567",
    "225984107",
    "22 598 41 07",
    VIP_EMAIL,
    "ola.wisniewska",
    "aleksandra",
    "wiśniewska",
)


@pytest.fixture
def redacted() -> Iterator[None]:
    logs.install()
    try:
        yield
    finally:
        logs.uninstall()


async def all_text(engine: Engine) -> dict[str, str]:
    def tables(sync) -> list[Table]:  # type: ignore[no-untyped-def]
        metadata = MetaData()
        return [Table(name, metadata, autoload_with=sync) for name in inspect(sync).get_table_names()]

    found: dict[str, str] = {}
    async with engine.store.engine.connect() as conn:
        for table in await conn.run_sync(tables):
            rows = (await conn.execute(select(table))).all()
            found[table.name] = json.dumps(
                [[str(v) for v in row] for row in rows], ensure_ascii=False
            ).lower()
    return found


def message(channel: str, sender: str, text: str, kind: str, value: str, proof: str) -> InboundMessage:
    verified = VerifiedIdentity(kind=kind, value=value, proof=proof)  # type: ignore[arg-type]
    return InboundMessage(channel=channel, sender_id=sender, text=text, identities=[verified])


async def test_a_recognised_vip_is_erased_from_everything(
    engine: Engine,
    services: Services,
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    redacted: None,
) -> None:
    for package in ("bot", "handoff", "knowledge", "console", "privacy", "actions"):
        caplog.set_level(logging.DEBUG, logger=package)
    monkeypatch.setenv("CONCIERGE_BOOKINGS_URL", f"sqlite:///{tmp_path / 'bookings.db'}")
    turns = [
        message(
            "whatsapp", PHONE, "Hi! This is Aleksandra Wiśniewska, 601 234 567", "phone", PHONE, "provider"
        ),
        message("email", VIP_EMAIL, "Hello, what are your opening hours?", "email", VIP_EMAIL, "provider"),
        message("widget", "w-ola-1", COMPLAINT, "email", VIP_EMAIL, "site_token"),
    ]
    replies = [await engine.handle(turn) for turn in turns]
    assert all(replies), "the bot answered every message"
    stranger = await engine.handle(
        message(
            "email", STANDARD_EMAIL, "Hello, do you sell gift cards?", "email", STANDARD_EMAIL, "provider"
        )
    )
    assert stranger
    before = await all_text(engine)
    assert any(VIP_EMAIL in text for text in before.values())
    assert sum("wiśniewska" in text for text in before.values()) >= 2  # profile and conversations

    settings = demo_settings(model_dir, tmp_path)  # the engine fixture's settings
    privacy = PrivacyService.for_settings(settings, engine.store.engine)
    archive = await privacy.export("+48 601-234-567", actor="root", actor_role="admin")
    chats = {c["id"] for c in archive["data"]["conversations"]}
    assert {f"whatsapp:{PHONE}", f"email:{VIP_EMAIL}", "widget:w-ola-1"} <= chats
    report = await privacy.erase(archive["subject"]["client_id"], actor="root", actor_role="admin")
    assert report.conversations == len(chats)

    after = await all_text(engine)
    left = {(table, n) for table, text in after.items() for n in NEEDLES if n in text}
    assert left == set()
    logged = caplog.text.lower() + "\n".join(r.getMessage() for r in caplog.records).lower()
    assert [n for n in NEEDLES if n in logged] == []
    # the vector store holds articles only: the passages nearest to her data do not carry it
    assert services.knowledge is not None
    for needle in ("Aleksandra Wiśniewska", VIP_EMAIL, "601 234 567"):
        for language in ("en", "pl"):
            passages = await services.knowledge.store.search(needle, language, k=20)
            assert not [p for p in passages if needle.lower() in p.text.lower()]
    # the other clients, and the stranger's conversation, are still there
    assert STANDARD_EMAIL in after["client_identities"] and STANDARD_EMAIL in after["conversations"]
