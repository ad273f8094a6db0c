"""The workspace over the real demo bot: queue, conversation view, actions, CSAT, suggestions.

Clients write through the real engine (NLU, sentiment, handoff triggers); agents act through
the workspace services; what is checked is what the client and the agent see and what the
event log holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.rest import RestChannel
from bot.channels.whatsapp_twilio import TwilioWhatsAppChannel
from bot.engine import Engine
from bot.events import AgentNoteAdded, CsatRecorded, CsatRequested, HandoffStatusChanged
from bot.settings import Settings
from concierge.compose import Services
from console.security.models import ConsoleUser
from console.services.workspace import Workspace, load_canned_replies
from console.services.workspace.errors import ConversationNotFound, NotAvailable, NotYours, WrongState
from tests.console.workspace_support import (
    COMPLAINT,
    REPO,
    STANDARD_EMAIL,
    VIP_EMAIL,
    VIP_NAME,
    demo_services,
    demo_settings,
    events_of,
    offline,
    postgres_schema,
    say,
    session_id,
    train_demo,
)

ANNA = ConsoleUser(
    id=1, username="anna.kowalska", display_name="Anna Kowalska", role="agent", agent_id="anna.kowalska"
)
OLENA = ConsoleUser(
    id=2,
    username="olena.shevchenko",
    display_name="Olena Shevchenko",
    role="agent",
    agent_id="olena.shevchenko",
)
KASIA = ConsoleUser(id=3, username="kasia", display_name="Katarzyna Lewandowska", role="manager")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_demo(tmp_path_factory.getbasetemp())


@pytest.fixture
def settings(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "workspace_chroma")
    return demo_settings(model_dir, tmp_path)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with demo_services(settings) as built:
        yield built


@pytest.fixture
def engine(services: Services) -> Engine:
    return services.engine


@pytest.fixture
async def workspace(services: Services) -> AsyncIterator[Workspace]:
    built = Workspace(
        services, {"rest": RestChannel()}, load_canned_replies(REPO / "data" / "canned_replies.yml")
    )
    yield built
    await built.close()


async def vip_complains(engine: Engine) -> str:
    sender = session_id()
    replies = await say(engine, sender, COMPLAINT, email=VIP_EMAIL)
    assert replies and "Aleksandra" in (replies[0].text or "")  # acknowledged by name, handed off
    return f"widget:{sender}"


async def test_a_vip_complaint_tops_the_queue_with_its_reason_tier_and_sla_clock(
    engine: Engine, workspace: Workspace
) -> None:
    standard = session_id()
    await say(engine, standard, "I want to talk to a person please", email=STANDARD_EMAIL)
    vip = await vip_complains(engine)  # arrives later, still goes first
    view = await workspace.queue.build()
    assert [e.conversation_id for e in view.entries] == [vip, f"widget:{standard}"]
    top, other = view.entries
    assert (top.tier, top.status, top.client_name, top.language) == ("VIP", "queued", VIP_NAME, "en")
    assert top.reason == "rule:vip_complaint" and "VIP client" in (top.reason_detail or "")
    assert top.deadline == pytest.approx(top.queued_at + 60)
    assert 0 < top.seconds_left <= 60 and not top.overdue and not top.answered
    assert top.sentiment is not None and top.sentiment < 0 and top.sentiment_label == "negative"
    assert top.last_message == COMPLAINT
    assert top.suggestion and top.suggestion.startswith("VIP")
    assert (other.tier, other.reason) == ("Standard", "client_request")
    assert other.deadline == pytest.approx(other.queued_at + 300)
    assert top.priority > other.priority


async def test_the_holder_replies_through_the_log_and_the_bot_stays_silent(
    engine: Engine, workspace: Workspace
) -> None:
    cid = await vip_complains(engine)
    assert await workspace.actions.claim(cid, ANNA) == "anna.kowalska"
    with pytest.raises(WrongState, match=r"not waiting in the queue.*Anna Kowalska"):
        await workspace.actions.claim(cid, OLENA)
    with pytest.raises(NotYours, match="Anna Kowalska holds this conversation"):
        await workspace.actions.reply(cid, OLENA, "Hi, Olena here")

    delivery = await workspace.actions.reply(cid, ANNA, "I'm so sorry, Aleksandra. I'll book a free repair.")
    assert delivery.delivered and delivery.channel == "widget"
    client_sees = await engine.history(cid)
    assert (client_sees[-1].sender, client_sees[-1].text) == (
        "agent",
        "I'm so sorry, Aleksandra. I'll book a free repair.",
    )

    assert await say(engine, cid.split(":", 1)[1], "thank you, when can I come?") == []  # no bot reply
    view = await workspace.views.conversation(cid, ANNA)
    assert [(line.kind, line.text) for line in view.lines[-2:]] == [
        ("agent", "I'm so sorry, Aleksandra. I'll book a free repair."),
        ("client", "thank you, when can I come?"),
    ]
    assert view.lines[-2].author == "Anna Kowalska"
    assert view.holder_is_you and view.allowed == ["reply", "transfer", "resolve", "return", "note"]
    assert view.packet is not None and view.packet.reason == "rule:vip_complaint"
    assert (
        view.client is not None
        and view.client.tier == "VIP"
        and view.client.concierge_name == "Anna Kowalska"
    )
    entry = (await workspace.queue.build()).entries[0]
    assert (entry.status, entry.assigned_name, entry.answered) == ("assigned", "Anna Kowalska", True)
    other_view = await workspace.views.conversation(cid, OLENA)
    assert other_view.allowed == ["note"] and not other_view.holder_is_you


async def test_only_managers_and_admins_assign_to_someone_else(engine: Engine, workspace: Workspace) -> None:
    cid = await vip_complains(engine)
    with pytest.raises(NotYours, match="only managers and admins"):
        await workspace.actions.claim(cid, ANNA, "olena.shevchenko")
    with pytest.raises(WrongState, match="not an agent on the roster"):
        await workspace.actions.claim(cid, KASIA, "nobody.here")
    assert await workspace.actions.claim(cid, KASIA, "olena.shevchenko") == "olena.shevchenko"
    view = await workspace.views.conversation(cid, KASIA)
    assert view.assigned_to == "olena.shevchenko"
    assert view.lines[-1].text == "Assigned to Olena Shevchenko by kasia"
    assert "reply" not in view.allowed and {"transfer", "resolve", "return"} <= set(view.allowed)


async def test_a_transfer_says_why_and_keeps_the_clients_waiting_time(
    engine: Engine, workspace: Workspace
) -> None:
    cid = await vip_complains(engine)
    queued_at = (await workspace.queue.build()).entries[0].queued_at
    await workspace.actions.claim(cid, ANNA)
    await workspace.actions.set_presence(OLENA, "online")  # transfers go to agents who are there
    await workspace.actions.transfer(cid, ANNA, "needs a Ukrainian speaker", "olena.shevchenko")
    view = await workspace.views.conversation(cid, OLENA)
    assert view.assigned_to == "olena.shevchenko" and view.holder_is_you
    assert [line.text for line in view.lines[-2:]] == [
        "Back in the queue (Anna Kowalska): needs a Ukrainian speaker",
        "Assigned to Olena Shevchenko by Anna Kowalska",
    ]
    with pytest.raises(NotYours):
        await workspace.actions.transfer(cid, ANNA, "changed my mind")
    await workspace.actions.transfer(cid, OLENA, "off shift")
    entry = (await workspace.queue.build()).entries[0]
    assert (entry.status, entry.queued_at) == ("queued", queued_at)


async def test_resolving_hands_back_to_the_bot_and_the_clients_score_is_stored(
    engine: Engine, workspace: Workspace
) -> None:
    cid = await vip_complains(engine)
    sender = cid.split(":", 1)[1]
    await workspace.actions.claim(cid, ANNA)
    await workspace.actions.reply(cid, ANNA, "Your repair is booked for tomorrow at 10:00.")
    assert await workspace.actions.resolve(cid, ANNA, None, ask_csat=True)

    moves = [
        (e.from_status, e.to_status)
        for e in await events_of(engine, cid)
        if isinstance(e, HandoffStatusChanged)
    ]
    assert moves[-2:] == [("assigned", "resolved"), ("resolved", "bot")]
    question = (await engine.history(cid))[-1]
    assert question.sender == "bot" and (question.text or "").startswith("How happy are you with the help")
    assert [b.payload for b in question.buttons] == [f'/csat{{"score":{n}}}' for n in range(1, 6)]

    thanks = await say(engine, sender, '/csat{"score":5}')
    assert [r.text for r in thanks] == ["Thank you for your feedback! It helps us look after you better."]
    stored = [e for e in await events_of(engine, cid) if isinstance(e, (CsatRequested, CsatRecorded))]
    assert [(type(e).__name__, getattr(e, "score", None), e.agent_id) for e in stored] == [
        ("CsatRequested", None, "anna.kowalska"),
        ("CsatRecorded", 5, "anna.kowalska"),
    ]
    view = await workspace.views.conversation(cid, ANNA)
    assert view.status == "bot" and view.csat.score == 5 and view.lines[-2].text == "CSAT: 5/5"
    assert cid not in {e.conversation_id for e in (await workspace.queue.build()).entries}
    with pytest.raises(WrongState, match="the bot already has this conversation"):
        await workspace.actions.return_to_bot(cid, ANNA, None, ask_csat=True)


async def test_returning_an_unclaimed_conversation_asks_no_csat_and_the_bot_answers_again(
    engine: Engine, workspace: Workspace
) -> None:
    cid = await vip_complains(engine)
    assert not await workspace.actions.return_to_bot(cid, ANNA, "handed off by mistake", ask_csat=True)
    assert not any(isinstance(e, CsatRequested) for e in await events_of(engine, cid))
    answer = await say(engine, cid.split(":", 1)[1], "what time do you open on Saturday?")
    assert answer and answer[0].text


async def test_notes_stay_internal_and_can_go_on_the_clients_profile(
    engine: Engine, workspace: Workspace
) -> None:
    cid = await vip_complains(engine)
    assert await workspace.actions.note(cid, ANNA, "Offered a free repair; prefers mornings", to_client=True)
    assert not any("free repair" in (line.text or "") for line in await engine.history(cid))
    stored = [e for e in await events_of(engine, cid) if isinstance(e, AgentNoteAdded)]
    assert [(e.text, e.author) for e in stored] == [
        ("Offered a free repair; prefers mornings", "Anna Kowalska")
    ]
    view = await workspace.views.conversation(cid, OLENA)
    assert view.lines[-1].kind == "note" and view.lines[-1].author == "Anna Kowalska"
    assert view.client is not None and view.client.notes[-1].text == "Offered a free repair; prefers mornings"

    # a channel that names nobody (no identity kind): there is no profile to keep the note on
    await say(engine, "kiosk-7", "I want to talk to a person please", channel="kiosk")
    before = len(await events_of(engine, "kiosk:kiosk-7"))
    with pytest.raises(WrongState, match="client is not known"):
        await workspace.actions.note("kiosk:kiosk-7", ANNA, "who is this?", to_client=True)
    assert len(await events_of(engine, "kiosk:kiosk-7")) == before  # nothing half-written
    with pytest.raises(ConversationNotFound):
        await workspace.actions.note("widget:nobody-ever", ANNA, "hello", to_client=False)


async def test_a_reply_the_channel_cannot_push_is_kept_and_reported_to_the_agent(
    engine: Engine, workspace: Workspace
) -> None:
    await say(engine, "rest-client-1", "I want to talk to a person please", channel="rest")
    await workspace.actions.claim("rest:rest-client-1", ANNA)
    delivery = await workspace.actions.reply("rest:rest-client-1", ANNA, "Hello from Anna")
    assert not delivery.delivered and delivery.error_kind == "channel_error"
    assert delivery.error is not None and "cannot push" in delivery.error
    assert (await engine.history("rest:rest-client-1"))[-1].text == "Hello from Anna"  # kept in the log

    await say(engine, "tg-1", "I want to talk to a person please", channel="telegram")
    await workspace.actions.claim("telegram:tg-1", ANNA)
    missing = await workspace.actions.reply("telegram:tg-1", ANNA, "Hello")
    assert (missing.delivered, missing.error_kind) == (False, "no_channel")


async def test_whatsapps_closed_window_is_shown_to_the_agent_for_replies_and_csat(
    services: Services, engine: Engine
) -> None:
    """The real Twilio WhatsApp adapter refuses outside the 24-hour window (no templates configured)."""
    channel = TwilioWhatsAppChannel.from_credentials(
        {
            "account_sid": "AC" + "0" * 32,
            "auth_token": "twilio-test-token",
            "twilio_number": "whatsapp:+14155238886",
        },
        None,
    )
    channel.handler = engine
    workspace = Workspace(
        services, {"whatsapp": channel}, load_canned_replies(REPO / "data" / "canned_replies.yml")
    )
    try:
        now = engine.clock
        engine.clock = lambda: now() - 25 * 3600  # the client wrote yesterday
        await say(engine, "+48512000111", "I want to talk to a person please", channel="whatsapp")
        engine.clock = now
        cid = "whatsapp:+48512000111"
        await workspace.actions.claim(cid, ANNA)
        delivery = await workspace.actions.reply(cid, ANNA, "Sorry for the wait!")
        assert (delivery.delivered, delivery.error_kind) == (False, "outside_window")
        assert delivery.error is not None and "24" in delivery.error and "not sent" in delivery.error
        assert (await engine.history(cid))[-1].text == "Sorry for the wait!"  # kept for the record
        csat = await workspace.actions.resolve(cid, ANNA, None, ask_csat=True)
        assert csat is not None and (csat.delivered, csat.error_kind) == (False, "outside_window")
        assert "'csat'" in (csat.error or "")  # the window looked for a CSAT template
    finally:
        await workspace.close()
        await channel.close()


async def test_suggestions_search_the_knowledge_base_and_canned_replies_are_personal(
    engine: Engine, workspace: Workspace
) -> None:
    cid = await vip_complains(engine)
    found = await workspace.views.suggestions(cid)
    assert found.available and found.query == COMPLAINT
    titles = [p.title for p in found.passages]
    assert any("gel" in t.lower() for t in titles[:2]), titles
    assert all(p.score > 0 for p in found.passages) and found.passages == sorted(
        found.passages, key=lambda p: -p.score
    )
    assert found.reply and found.reply_mode == "extractive" and found.reply_sources
    asked = await workspace.views.suggestions(cid, "Is there parking at Mokotów?")
    assert asked.query == "Is there parking at Mokotów?"
    assert any("parking" in (p.title + p.text).lower() for p in asked.passages)

    canned = {r.id: r for r in await workspace.views.canned_replies(cid, ANNA)}
    assert canned["greeting"].text.startswith("Hello Aleksandra, this is Anna from Mariia Hub.")
    assert "Warsaw" in canned["rebook"].text or "Mokotów" in canned["rebook"].text


async def test_presence_feeds_the_router(engine: Engine, workspace: Workspace) -> None:
    await workspace.actions.set_presence(OLENA, "online")
    with pytest.raises(NotAvailable, match="agent profile"):
        await workspace.actions.set_presence(KASIA, "online")
    states = {a.profile.id: a.status for a in await workspace.runtime.roster.states()}
    assert states["olena.shevchenko"] == "online" and states["anna.kowalska"] == "offline"
    cid = await vip_complains(engine)  # Anna, her concierge, is offline: Olena is suggested
    view = await workspace.views.conversation(cid, KASIA)
    assert (
        view.routing is not None and "Olena" in view.routing and "concierge Anna is offline" in view.routing
    )


async def test_the_hub_pushes_queue_changes_and_touched_conversations(
    engine: Engine, workspace: Workspace
) -> None:
    workspace.hub.interval = 0.05
    subscription = workspace.hub.subscribe()
    try:
        cid = await vip_complains(engine)
        queue = None
        while queue is None or not queue.entries:
            queue, touched, _ = await subscription.next()
        assert [e.conversation_id for e in queue.entries] == [cid]
        await workspace.actions.claim(cid, ANNA)
        workspace.hub.poke()
        seen: set[str] = set()
        status = None
        while status != "assigned":
            queue, touched, _ = await subscription.next()
            seen |= touched
            if queue is not None:
                status = queue.entries[0].status
        assert cid in seen
    finally:
        workspace.hub.unsubscribe(subscription)


async def test_the_whole_flow_on_postgresql_with_redis_locks(
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    redis_url: str,
) -> None:
    offline(monkeypatch, tmp_path_factory.getbasetemp() / "workspace_chroma")
    async with postgres_schema(postgres_url) as database_url:
        settings = demo_settings(model_dir, tmp_path, database_url=database_url, redis_url=redis_url)
        async with demo_services(settings) as services:
            engine = services.engine
            workspace = Workspace(services, {}, load_canned_replies(REPO / "data" / "canned_replies.yml"))
            try:
                await say(engine, session_id(), "I want to talk to a person please", email=STANDARD_EMAIL)
                cid = await vip_complains(engine)
                entries = (await workspace.queue.build()).entries
                assert (entries[0].conversation_id, entries[0].tier) == (cid, "VIP")
                await workspace.actions.claim(cid, ANNA)
                await workspace.actions.reply(cid, ANNA, "Anna here, I'm on it.")
                await workspace.actions.note(cid, ANNA, "called the studio", to_client=False)
                assert await workspace.actions.resolve(cid, ANNA, "repair booked", ask_csat=True)
                await say(engine, cid.split(":", 1)[1], '/csat{"score":4}')
                scores = [e.score for e in await events_of(engine, cid) if isinstance(e, CsatRecorded)]
                assert scores == [4]
                view = await workspace.views.conversation(cid, ANNA)
                kinds = [line.kind for line in view.lines]
                assert "agent" in kinds and "note" in kinds and view.csat.score == 4
            finally:
                await workspace.close()
