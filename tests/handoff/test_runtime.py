"""Handoff in the running bot: scripted conversations through ``Engine.handle`` on the real
trained demo bot (this repository: NLU, policies, sentiment, knowledge base, demo clients
and agents), on SQLite and on PostgreSQL.

One engine per database serves the whole module (building one embeds the knowledge base,
which takes a while on a busy machine); each test talks from its own senders, sets the
engine's clock (studios open, or closed at night) and the agents' status itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
import uvicorn
import websockets
from pydantic import SecretStr

from bot.channels.rest import parse_rest_body
from bot.channels.widget_identity import sign_identity
from bot.engine import Engine
from bot.events import (
    BotUttered,
    Event,
    HandoffRequested,
    HandoffStatusChanged,
    SlotSet,
    UserUttered,
)
from bot.models import ContactHints, InboundMessage, VerifiedIdentity
from bot.settings import Settings
from bot.store import async_url, scratch_schema
from concierge.compose import build_engine
from console.app import create_app
from console.audit import AuditEntry, AuditFilter, AuditLog
from handoff.identity import Identity
from handoff.runtime import HandoffRuntime
from handoff.state import HandoffStatus

pytestmark = pytest.mark.asyncio(loop_scope="module")

WARSAW = ZoneInfo("Europe/Warsaw")
OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=WARSAW).timestamp()  # a Tuesday morning: studios open
CLOSED = datetime(2026, 11, 24, 23, 30, tzinfo=WARSAW).timestamp()  # the same night: all closed

# demo clients (data/clients.csv)
ALEKSANDRA_PHONE = "+48601234567"  # VIP (black membership), concierge Anna Kowalska, English on WhatsApp
OKSANA_PHONE = "+380674123390"  # VIP (black), concierge Olena Shevchenko, writes Ukrainian
HANNAH_PHONE = "+48512776430"  # Standard
OLIVIA_PHONE = "+48784221903"  # Standard
JULIA_PHONE = "+48660123987"  # Standard, home studio Mokotów


class Clock:
    """The engine's clock, set by each test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def demo(
    request: pytest.FixtureRequest,
    demo_model: Path,
    repo_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
) -> AsyncIterator[Engine]:
    """The demo bot's engine with handoff, on a fresh database of each kind."""
    state = tmp_path_factory.mktemp(f"handoff_runtime_{request.param}")
    async with contextlib.AsyncExitStack() as stack:
        database_url = None
        if request.param == "postgresql":
            schema = await stack.enter_async_context(scratch_schema(postgres_url, "test_runtime"))
            database_url = async_url(postgres_url, schema=schema).render_as_string(hide_password=False)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HF_HUB_OFFLINE", "1")
            patch.setenv("TRANSFORMERS_OFFLINE", "1")
            patch.setenv("CONCIERGE_BOOKINGS_URL", f"sqlite:///{state / 'bookings.db'}")
            settings = Settings(
                project_dir=repo_dir, model_dir=demo_model, state_dir=state, database_url=database_url
            )
            engine = await build_engine(settings, clock=Clock(OPEN))  # the engine's and handoff's
            try:
                yield engine
            finally:
                await engine.close()


@pytest_asyncio.fixture
async def engine(demo: Engine) -> AsyncIterator[Engine]:
    """The module's engine at a Tuesday 11:00 in Warsaw, with every agent offline."""
    set_clock(demo, OPEN)
    for agent in runtime(demo).roster.profiles:
        await runtime(demo).set_agent_status(agent.id, "offline")
    yield demo


def runtime(engine: Engine) -> HandoffRuntime:
    """The engine's turn hooks: the handoff runtime the composition root gave it."""
    assert isinstance(engine.hooks, HandoffRuntime)
    return engine.hooks


def set_clock(engine: Engine, now: float) -> None:
    """Move the clock the engine and its handoff runtime share (built with one)."""
    assert isinstance(engine.clock, Clock)
    engine.clock.now = now


def unique(prefix: str) -> str:
    """A fresh id in letters only: random hex can hold a run of digits the REST channel
    rightly refuses as a phone number (it did, once in a CI run)."""
    return prefix + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:12])


# what each channel's adapter proves about a sender (its signed sender id)
PROVEN_SENDERS = {"whatsapp": "phone", "whatsapp_cloud": "phone", "telegram": "telegram", "email": "email"}


async def say(
    engine: Engine,
    channel: str,
    sender: str,
    text: str,
    *,
    token: tuple[str, str] | None = None,
    name: str | None = None,
) -> list[str]:
    """What the client reads after sending ``text``: the message carries what its channel's
    adapter would prove (a WhatsApp sender's number; ``token``: the ``(kind, value)`` a
    verified widget token names) and ``name`` as the unverified display name."""
    identities = []
    if channel in PROVEN_SENDERS:
        identities.append(VerifiedIdentity(kind=PROVEN_SENDERS[channel], value=sender, proof="provider"))  # type: ignore[arg-type]
    if token is not None:
        identities.append(VerifiedIdentity(kind=token[0], value=token[1], proof="site_token"))  # type: ignore[arg-type]
    message = InboundMessage(
        channel=channel, sender_id=sender, text=text, identities=identities, hints=ContactHints(name=name)
    )
    return [r.text or "" for r in await engine.handle(message)]


async def log(engine: Engine, conversation_id: str) -> list[Event]:
    return await engine.store.events(conversation_id)


def requests(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.reason, e.detail) for e in events if isinstance(e, HandoffRequested)]


def moves(events: list[Event]) -> list[HandoffStatusChanged]:
    return [e for e in events if isinstance(e, HandoffStatusChanged)]


def slots(events: list[Event]) -> dict[str, object]:
    return {e.name: e.value for e in events if isinstance(e, SlotSet)}


# ---- rules: a VIP complaint goes to a person at once ------------------------------------------
async def test_a_vip_complaint_goes_straight_to_the_queue_and_the_bot_stays_silent(engine: Engine) -> None:
    conversation = f"whatsapp:{ALEKSANDRA_PHONE}"
    greeting = await say(engine, "whatsapp", ALEKSANDRA_PHONE, "hello")
    assert greeting[0].startswith("Welcome back, Aleksandra!")  # the VIP greeting, by name

    replies = await say(
        engine,
        "whatsapp",
        ALEKSANDRA_PHONE,
        "my nails are peeling after two days, this is really disappointing",
    )
    # the bot's own answer (an apology and an offer) is pre-empted by the handoff message
    assert replies == [
        "I'm so sorry, Aleksandra. I've passed this straight to our team as a priority; "
        "a person will reply here in a moment."
    ]
    events = await log(engine, conversation)
    assert [reason for reason, _ in requests(events)] == ["rule:vip_complaint"]
    assert requests(events)[0][1] is not None and "VIP client" in (requests(events)[0][1] or "")
    [queued] = moves(events)
    assert (queued.from_status, queued.to_status, queued.actor) == ("bot", "queued", "bot")
    assert queued.reason == "rule:vip_complaint" and queued.metadata["tier"] == "VIP"
    assert "concierge Anna is offline" in queued.metadata["routing"]
    assert not any(
        isinstance(e, BotUttered) and e.metadata.get("utter_action") == "utter_complaint_apology"
        for e in events
    )

    # queued: stored, never answered
    assert await say(engine, "whatsapp", ALEKSANDRA_PHONE, "hello? is anyone there?") == []
    ranked = await runtime(engine).queue(now=OPEN + 10)
    mine = next(r for r in ranked if r.item.conversation_id == conversation)
    assert mine.item.tier == "VIP" and mine.item.reason == "rule:vip_complaint"
    assert mine.item.client_name == "Aleksandra Wiśniewska" and mine.seconds_left == pytest.approx(50)

    # an agent takes it: still nothing from the bot
    await runtime(engine).service.claim(conversation, "katarzyna.zielinska")
    assert await say(engine, "whatsapp", ALEKSANDRA_PHONE, "thank you for taking this") == []
    assert await runtime(engine).service.status(conversation) == HandoffStatus.ASSIGNED
    texts = [e.text for e in await log(engine, conversation) if isinstance(e, UserUttered)]
    assert texts[-2:] == ["hello? is anyone there?", "thank you for taking this"]


async def test_the_warm_handoff_packet_carries_the_client_the_sentiment_and_what_the_bot_tried(
    engine: Engine,
) -> None:
    sender = unique("packet")
    conversation = f"widget:{sender}"
    known = ("email", "ola.wisniewska@example.pl")  # as a verified widget token gives it
    answer = await say(engine, "widget", sender, "do you have a wedding package?", token=known)
    assert answer[0].startswith("Our bridal package")  # from the knowledge base
    await say(
        engine,
        "widget",
        sender,
        "my nails are peeling after two days, this is really disappointing",
        token=known,
    )

    packet = await runtime(engine).packet(conversation)
    assert packet.reason == "rule:vip_complaint" and packet.tier == "VIP"
    assert packet.client is not None and packet.client.name == "Aleksandra Wiśniewska"
    assert packet.client.concierge_agent_id == "anna.kowalska"
    assert "Bridal and event packages" in packet.knowledge_sources
    assert "action_answer_from_knowledge" in [a.action for a in packet.bot_attempts]
    assert {i.name for i in packet.intents} >= {"complaint"}
    assert packet.sentiment is not None and len(packet.sentiment.scores) == 2
    assert packet.sentiment.scores[-1] < 0
    assert packet.summary_source == "extractive"
    assert packet.summary.startswith("Aleksandra Wiśniewska (VIP, en) wrote 2 messages")
    assert packet.sla_deadline == pytest.approx(OPEN + 60)


@pytest.mark.parametrize(
    ("text", "reason", "reply"),
    [
        (
            "Po hennie mam wysypkę i pieką mnie oczy",
            "rule:safety",
            "Od razu przekazuję tę sprawę osobie z zespołu Mariia Hub; odpowie tutaj wkrótce.",
        ),
        (
            "I want a refund for yesterday's massage",
            "rule:refund",
            "I'm passing this to a member of the Mariia Hub team right away; "
            "a person will reply here shortly.",
        ),
        (
            "Після фарбування з'явився набряк і висип",
            "rule:safety",
            "Одразу передаю це комусь із команди Mariia Hub; людина відповість тут найближчим часом.",
        ),
    ],
    ids=["pl-safety", "en-refund", "uk-safety"],
)
async def test_an_allergic_reaction_or_a_refund_goes_to_a_person_at_once_in_the_clients_language(
    engine: Engine, text: str, reason: str, reply: str
) -> None:
    sender = unique("urgent")
    assert await say(engine, "widget", sender, text) == [reply]
    events = await log(engine, f"widget:{sender}")
    assert [r for r, _ in requests(events)] == [reason]
    assert [m.to_status for m in moves(events)] == ["queued"]


# ---- the client's request, through the bot's own handoff action ----------------------------------
async def test_an_explicit_request_is_answered_by_the_bot_and_queued_once(engine: Engine) -> None:
    sender = unique("human")
    replies = await say(engine, "widget", sender, "can I talk to a real person please?")
    assert replies == [
        "Of course. I'm passing our conversation to a member of the Mariia Hub team; they'll reply here "
        "shortly (during opening hours usually within a few minutes)."
    ]
    events = await log(engine, f"widget:{sender}")
    assert requests(events) == [("client_request", "request_human")]  # the action's event, once
    [queued] = moves(events)
    assert (queued.to_status, queued.reason, queued.metadata["tier"]) == (
        "queued",
        "client_request",
        "Standard",
    )
    assert await say(engine, "widget", sender, "thanks, I'll wait") == []


# ---- a falling sentiment ------------------------------------------------------------------------
async def test_a_conversation_going_sour_is_handed_off_on_the_third_turn(engine: Engine) -> None:
    conversation = f"whatsapp:{HANNAH_PHONE}"
    first = await say(engine, "whatsapp", HANNAH_PHONE, "hi, I have a question about my booking")
    second = await say(
        engine, "whatsapp", HANNAH_PHONE, "I've been waiting twenty minutes for someone to pick up the phone"
    )
    assert first and second  # the bot answers the first two turns itself
    assert requests(await log(engine, conversation)) == []
    third = await say(engine, "whatsapp", HANNAH_PHONE, "this is getting ridiculous, nobody ever answers")
    assert third == [
        "I'm passing this to a member of the Mariia Hub team right away; a person will reply here shortly."
    ]
    [(reason, detail)] = requests(await log(engine, conversation))
    assert reason == "sentiment" and detail is not None and detail.startswith("sentiment falling:")
    assert "over 3 turns" in detail


async def test_a_standard_clients_mild_complaint_gets_the_bots_apology_not_a_handoff(engine: Engine) -> None:
    conversation = f"whatsapp:{OLIVIA_PHONE}"
    apology = await say(
        engine, "whatsapp", OLIVIA_PHONE, "my nails are peeling after two days, this is really disappointing"
    )
    assert apology[0].startswith("I'm truly sorry to hear that")  # the same words a VIP escalates
    settled = await say(engine, "whatsapp", OLIVIA_PHONE, "no thanks, it's fine")
    assert settled == ["Of course. Is there anything else I can help you with?"]
    events = await log(engine, conversation)
    assert requests(events) == [] and moves(events) == []
    client = await runtime(engine).client_for(conversation)
    assert client is not None and (client.first_name, client.tier) == ("Olivia", "Standard")


# ---- repeated fallbacks -----------------------------------------------------------------------
async def test_two_messages_the_bot_cannot_understand_hand_off(engine: Engine) -> None:
    sender = unique("lost")
    first = await say(engine, "widget", sender, "asdkjh qwe zzz")
    assert first[0].startswith("I'm sorry, I don't know the answer to that")
    second = await say(engine, "widget", sender, "blorp fnord wibble")
    assert second[0].startswith("I'm sorry, I don't know the answer to that")
    assert second[1].startswith("I'm passing this to a member of the Mariia Hub team right away")
    [(reason, detail)] = requests(await log(engine, f"widget:{sender}"))
    assert reason == "repeated_fallback" and '"asdkjh qwe zzz", "blorp fnord wibble"' in (detail or "")
    assert await say(engine, "widget", sender, "xqzt vlum prk") == []


# ---- a VIP skips the bot: their named concierge ------------------------------------------------
async def test_a_vip_asking_for_their_concierge_gets_them_directly_when_online(engine: Engine) -> None:
    rt = runtime(engine)
    await rt.set_agent_status("anna.kowalska", "online")
    load_before = (await rt.ledger.loads()).get("anna.kowalska", 0)
    replies = await say(engine, "telegram", "ola_w", "connect me to my concierge")  # Aleksandra's Telegram
    assert replies == [
        "Of course. I'm connecting you with Anna, your concierge; Anna will reply here in a moment."
    ]
    events = await log(engine, "telegram:ola_w")
    assert requests(events)[0][0] == "client_request"
    queued, assigned = moves(events)
    assert (queued.to_status, assigned.to_status) == ("queued", "assigned")
    assert assigned.actor == "system" and assigned.metadata["agent_id"] == "anna.kowalska"
    assert "Anna: named concierge, online" in assigned.metadata["explanation"]
    # the bot's own handoff action never ran: the VIP skipped the bot
    assert not any(
        isinstance(e, BotUttered) and e.metadata.get("utter_action") == "utter_handoff" for e in events
    )
    assert (await rt.ledger.loads())["anna.kowalska"] == load_before + 1
    assert (await rt.ledger.assigned())["telegram:ola_w"] == "anna.kowalska"
    assert await say(engine, "telegram", "ola_w", "thank you!") == []


async def test_a_vip_whose_concierge_is_away_waits_in_the_queue_in_their_language(engine: Engine) -> None:
    conversation = f"whatsapp:{OKSANA_PHONE}"
    replies = await say(engine, "whatsapp", OKSANA_PHONE, "з'єднайте мене з моїм консьєржем")
    assert replies == [
        "Olena, ваш консьєрж, зараз не може відповісти, тому я передаю повідомлення команді; "
        "перша вільна людина відповість тут найближчим часом."
    ]
    events = await log(engine, conversation)
    [queued] = moves(events)
    assert queued.to_status == "queued" and "concierge Olena is offline" in queued.metadata["routing"]
    route = await runtime(engine).route(conversation)
    assert route.agent_id is None and route.explanation.startswith("VIP, Ukrainian")


# ---- outside business hours ---------------------------------------------------------------------
async def test_out_of_hours_the_client_is_told_when_and_asked_for_details_once(engine: Engine) -> None:
    set_clock(engine, CLOSED)  # Tuesday 23:30; Mokotów opens on Wednesday at 08:00 (data/demo/locations.csv)
    conversation = f"whatsapp:{JULIA_PHONE}"
    replies = await say(engine, "whatsapp", JULIA_PHONE, "can I talk to a real person please?")
    assert replies[0].startswith("Of course. I'm passing our conversation")
    assert replies[1] == (
        "Our team is offline right now. A person will reply tomorrow at 08:00. Meanwhile, tell me what "
        "happened and the best way to reach you, and I'll pass it on."
    )
    [queued] = moves(await log(engine, conversation))
    assert queued.metadata["out_of_hours"] is True
    assert queued.metadata["expected_reply_at"] == "2026-11-25T08:00:00+01:00"

    details = await say(
        engine, "whatsapp", JULIA_PHONE, "I need to move Thursday's colour appointment, call me after 5 pm"
    )
    assert details == [
        "Thank you, I've added this to your request. A person from our team will reply tomorrow at 08:00."
    ]
    assert await say(engine, "whatsapp", JULIA_PHONE, "my number is this one") == []  # acknowledged once


# ---- sentiment on every client message ----------------------------------------------------------
@pytest.mark.parametrize(
    ("texts", "labels"),
    [
        (
            ["hello", "thank you so much, it was wonderful", "this is awful, I've been waiting an hour"],
            ["neutral", "positive", "negative"],
        ),
        (
            ["dzień dobry", "dziękuję bardzo, było cudownie", "to skandal, czekam już godzinę"],
            ["neutral", "positive", "negative"],
        ),
        (
            ["добрий день", "дуже дякую, було чудово", "це жахливо, я чекаю вже годину"],
            ["neutral", "positive", "negative"],
        ),
    ],
    ids=["en", "pl", "uk"],
)
async def test_every_stored_client_message_carries_its_sentiment(
    engine: Engine, texts: list[str], labels: list[str]
) -> None:
    sender = unique("mood")
    for message in texts:
        await say(engine, "widget", sender, message)
    stored = [e for e in await log(engine, f"widget:{sender}") if isinstance(e, UserUttered)]
    assert [e.text for e in stored] == texts
    for event in stored:
        wire = event.to_dict()["parse_data"]["sentiment"]  # Rasa's wire dict, as stored
        assert set(wire) == {"score", "label"} and -1 <= wire["score"] <= 1
    assert [e.parse_data.sentiment.label for e in stored if e.parse_data.sentiment] == labels


# ---- who is writing, across channels --------------------------------------------------------------
async def test_the_same_phone_on_whatsapp_and_a_widget_token_is_one_client_with_one_tier(
    engine: Engine,
) -> None:
    rt = runtime(engine)
    james_whatsapp = "whatsapp:+48793455021"  # James Whitfield: VIP by manual override
    assert (await say(engine, "whatsapp", "+48793455021", "hello"))[0].startswith("Welcome back, James!")
    on_whatsapp = await rt.client_for(james_whatsapp)
    sender = unique("james")
    # the widget's verified token gives the phone as the site knows it
    greeting = await say(engine, "widget", sender, "hello", token=("phone", "793 455 021"))
    assert greeting[0].startswith("Welcome back, James!")
    on_widget = await rt.client_for(f"widget:{sender}")
    assert on_whatsapp is not None and on_widget is not None
    assert on_widget.id == on_whatsapp.id and on_widget.tier == on_whatsapp.tier == "VIP"
    # the widget session is the conversation's key, never one of his identities
    assert f"widget:{sender}" not in {str(i) for i in on_widget.identities}
    widget_slots = slots(await log(engine, f"widget:{sender}"))
    assert {k: widget_slots.get(k) for k in ("client_id", "tier", "client_first_name")} == {
        "client_id": on_whatsapp.id,
        "tier": "VIP",
        "client_first_name": "James",
    }


@asynccontextmanager
async def served(engine: Engine, settings: Settings) -> AsyncIterator[str]:
    """The web app over ``engine`` on a free loopback port, in this event loop."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=0, log_level="warning")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


def ws_url(base_url: str) -> str:
    return base_url.replace("http", "ws", 1) + "/webhooks/widget/ws"


async def test_a_signed_widget_token_over_the_real_socket_is_recognised_as_the_vip(
    engine: Engine, repo_dir: Path
) -> None:
    secret = "demo-site-secret"
    settings = Settings(project_dir=repo_dir, widget_secret=SecretStr(secret))
    token = sign_identity("phone", "+48 601 234 567", secret)  # Aleksandra, as the site knows her
    session = unique("site")
    async with served(engine, settings) as url, websockets.connect(ws_url(url)) as ws:
        await ws.send(
            json.dumps({"type": "hello", "session_id": session, "last_seq": None, "client_token": token})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "history"
        await ws.send(json.dumps({"type": "message", "client_id": unique("m"), "text": "hello"}))
        lines: list[dict[str, object]] = []
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "message":
                lines.append(frame["entry"])
            if frame == {"type": "typing", "on": False}:
                break
    assert str(lines[-1]["text"]).startswith("Welcome back, Aleksandra!")
    client = await runtime(engine).client_for(f"widget:{session}")
    assert client is not None and client.external_id == "MH-0001" and client.tier == "VIP"


JAMES_PHONE = "+48793455021"  # James Whitfield: VIP by manual override
SPOOF = {"sender": "attacker-1", "message": "hi", "metadata": {"contact_phone": "+48 793 455 021"}}
REST_TOKEN = "rest-token-of-the-salon-site"


async def merge_entries(engine: Engine) -> list[AuditEntry]:
    entries, _total = await AuditLog(engine.store.engine).entries(AuditFilter(action="client.merge"))
    return entries


async def test_a_rest_caller_naming_a_vips_phone_is_neither_greeted_nor_tiered_nor_linked(
    engine: Engine, repo_dir: Path
) -> None:
    rt = runtime(engine)
    james = await rt.clients.find(Identity.of("phone", JAMES_PHONE))
    assert james is not None and james.tier == "VIP"
    clients_before, merges_before = await rt.clients.list_ids(), await merge_entries(engine)
    sender = unique("attacker")
    spoof = {**SPOOF, "sender": sender}
    complaint = {**spoof, "message": "my nails are peeling after two days, this is really disappointing"}
    settings = Settings(project_dir=repo_dir, rest_token=SecretStr(REST_TOKEN))
    bearer = {"Authorization": f"Bearer {REST_TOKEN}"}
    async with served(engine, settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        assert (await http.post("/webhooks/rest/webhook", json=spoof)).status_code == 401  # no token
        greeting = (await http.post("/webhooks/rest/webhook", json=spoof, headers=bearer)).json()
        await http.post("/webhooks/rest/webhook", json=complaint, headers=bearer)

    texts = [r["text"] for r in greeting]
    assert texts and not any("Welcome back" in t or "James" in t for t in texts)
    events = await log(engine, f"rest:{sender}")
    assert not {"client_id", "tier", "client_first_name"} & set(slots(events))
    assert not any(reason == "rule:vip_complaint" for reason, _ in requests(events))
    # the claimed phone is kept for agents, labelled: never as James's
    assert await rt.client_for(f"rest:{sender}") is None
    assert next(e.metadata.get("unverified_contact") for e in events if isinstance(e, UserUttered)) == {
        "phone": "+48 793 455 021"
    }
    after = await rt.clients.get(james.id)
    assert after == james  # the same profile: fields, identities, visits, notes
    assert [str(i) for i in after.identities] == [str(i) for i in james.identities]
    assert not any(sender in str(i) for i in after.identities)
    assert await rt.clients.list_ids() == clients_before
    assert await merge_entries(engine) == merges_before


async def test_anonymous_rest_senders_create_no_client_profiles_and_claims_merge_nobody(
    engine: Engine,
) -> None:
    rt = runtime(engine)
    clients_before, merges_before = await rt.clients.list_ids(), await merge_entries(engine)
    for n in range(60):
        # one phone of a VIP, the e-mail of another: once this merged two real profiles
        metadata = (
            {"contact_phone": JAMES_PHONE, "contact_email": "ola.wisniewska@example.pl"} if n % 2 else {}
        )
        body = {"sender": unique(f"anon{n}-"), "message": "hello", "metadata": metadata}
        await engine.handle(parse_rest_body(json.dumps(body).encode()).to_inbound("rest"))
    assert await rt.clients.list_ids() == clients_before
    assert await merge_entries(engine) == merges_before
    ola = await rt.clients.find(Identity.of("email", "ola.wisniewska@example.pl"))
    james = await rt.clients.find(Identity.of("phone", JAMES_PHONE))
    assert ola is not None and james is not None and ola.id != james.id


async def test_an_unknown_number_becomes_a_new_standard_client_with_its_whatsapp_name(engine: Engine) -> None:
    number = "+48500100" + str(uuid.uuid4().int % 900 + 100)
    await say(engine, "whatsapp", number, "hi there", name="Marta Nowicka")
    client = await runtime(engine).client_for(f"whatsapp:{number}")
    assert client is not None and client.tier == "Standard"
    assert (client.first_name, client.last_name) == ("Marta", "Nowicka")
    assert await runtime(engine).client_for("widget:nobody-ever-wrote") is None


async def test_a_premium_client_gets_the_premium_greeting_in_polish(engine: Engine) -> None:
    # Katarzyna Lewandowska (gold membership): her phone on WhatsApp, writing Polish
    greeting = await say(engine, "whatsapp", "+48502118907", "dzień dobry")
    assert greeting[0].startswith("Witaj ponownie, Katarzyna!")


async def test_health_reports_the_handoff_component(engine: Engine) -> None:
    await runtime(engine).set_agent_status("dmytro.melnyk", "online")
    health = await engine.health()
    assert health["handoff"].status == "ok"
    assert health["handoff"].detail == "8 agents (1 online), sentiment on"


@pytest.fixture
def chromium() -> Path:
    path = Path("/usr/bin/chromium")
    if not path.is_file():  # a missing browser is a failure, never a skip
        pytest.fail(f"chromium not found at {path}; scripts/setup installs it")
    return path


@pytest.mark.browser
async def test_the_demo_pages_chat_as_picker_gives_the_widget_a_vips_identity(
    engine: Engine, repo_dir: Path, chromium: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    settings = Settings(project_dir=repo_dir, demo=True, widget_secret=SecretStr("demo-page-secret"))
    async with served(engine, settings) as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))  # type: ignore[func-returns-value]
            await page.goto(url)
            picker = page.get_by_role(
                "group", name="Demo: chat as a logged-in client (the site signs who they are)"
            )
            await picker.get_by_role("button", name="Aleksandra Wiśniewska (VIP)").click()
            await expect(page.locator("#chat-as-status")).to_have_text(
                "Chatting as Aleksandra Wiśniewska (VIP)."
            )
            await expect(page.get_by_role("dialog", name="Chat with Mariia Hub")).to_be_visible()
            box = page.get_by_label("Your message")
            await box.fill("hello")
            await box.press("Enter")
            bot = page.locator("#concierge-widget .cw-log .cw-bot .cw-text")
            await expect(bot.first).to_contain_text("Welcome back, Aleksandra!", timeout=30_000)
            session = await page.evaluate("localStorage.getItem('concierge.session')")
            assert errors == []  # no CSP violations, no script errors
        finally:
            await browser.close()
    client = await runtime(engine).client_for(f"widget:{session}")
    assert client is not None and client.external_id == "MH-0001" and client.tier == "VIP"
