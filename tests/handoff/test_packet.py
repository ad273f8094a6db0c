"""The warm-handoff packet built from a scripted VIP conversation and a stored client profile."""

from __future__ import annotations

from scripted import Script

from bot.events import BotUttered, HandoffRequested, UserUttered
from handoff.clients import ClientStore, ClientUpsert, Visit
from handoff.config import HandoffConfig
from handoff.identity import Identity
from handoff.packet import TranscriptLine, build_packet
from handoff.state import transition

CID = "widget:ola"
CONFIG = HandoffConfig()


def vip_complaint() -> Script:
    script = Script()
    script.client("Dzień dobry, mam problem z paznokciami", "complaint", -0.2, "pl")
    script.bot("utter_ask_details", "Przykro mi! Co się stało?")
    script.client("Hybryda odprysnęła po dwóch dniach, a płaciłam 320 zł", "complaint", -0.5, "pl")
    script.bot("action_knowledge_answer")
    script.add(
        BotUttered(
            text="Reklamacje przyjmujemy do 7 dni od wizyty [1].",
            timestamp=script.now + 1,
            metadata={
                "sender": "bot",
                "sources": [
                    {"ref": 1, "article_id": "refunds-and-complaints", "title": "Refunds and complaints"}
                ],
            },
        )
    )
    script.client("To nie odpowiada na moje pytanie. Chcę rozmawiać z Anną.", "request_human", -0.8, "pl")
    at = script.now + 1
    script.add(
        HandoffRequested(reason="client_request", detail="client asked for a person", timestamp=at),
        *transition("bot", "queued", actor="bot", reason="client_request", timestamp=at),
    )
    return script


async def test_the_agent_gets_who_why_what_was_tried_and_the_mood(client_store: ClientStore) -> None:
    client = await client_store.upsert(
        ClientUpsert(
            first_name="Aleksandra",
            last_name="Wiśniewska",
            membership="black",
            concierge_agent_id="anna.kowalska",
            language="pl",
            identities=[Identity.of("widget", "ola")],
            preferences={"drink": "flat white"},
            visits=[
                Visit(
                    visited_on=client_store.today(), category="nails", service="Hybrid manicure", amount=320
                )
            ],
            notes=["Prefers the corner room."],
        )
    )
    script = vip_complaint()
    packet = await build_packet(CID, script.events, config=CONFIG, client=client)

    assert (packet.reason, packet.reason_detail, packet.tier, packet.language) == (
        "client_request",
        "client asked for a person",
        "VIP",
        "pl",
    )
    card = packet.client
    assert card is not None
    assert (card.name, card.tier_reason, card.concierge_agent_id) == (
        "Aleksandra Wiśniewska",
        "black membership",
        "anna.kowalska",
    )
    assert card.preferences == {"drink": "flat white"} and card.notes == ["Prefers the corner room."]
    assert card.recent_visits[0].service == "Hybrid manicure"

    assert [(i.name, i.count) for i in packet.intents] == [("complaint", 2), ("request_human", 1)]
    assert [a.action for a in packet.bot_attempts if a.action] == [
        "utter_ask_details",
        "action_knowledge_answer",
    ]
    cited = [a for a in packet.bot_attempts if a.sources]
    assert cited[0].text == "Reklamacje przyjmujemy do 7 dni od wizyty [1]."
    assert packet.knowledge_sources == ["Refunds and complaints"]

    assert packet.sentiment is not None and packet.sentiment.scores == [-0.2, -0.5, -0.8]
    assert packet.sentiment.falling
    assert [k.text for k in packet.key_messages] == [
        "Dzień dobry, mam problem z paznokciami",
        "Hybryda odprysnęła po dwóch dniach, a płaciłam 320 zł",
        "To nie odpowiada na moje pytanie. Chcę rozmawiać z Anną.",
    ]
    assert packet.queued_at is not None and packet.sla_deadline == packet.queued_at + 60
    assert packet.summary_source == "extractive"
    assert packet.summary.startswith(
        "Aleksandra Wiśniewska (VIP, pl) wrote 3 messages about complaint, request human."
    )
    for part in (
        "Handed off: client asked for a person",
        "Bot tried: ask details, knowledge answer",
        "Knowledge cited: Refunds and complaints",
        "Mood falling: -0.20 -> ",
    ):
        assert part in packet.summary


class CannedLLM:
    """A summariser seam implementation: records what it was given and answers in one line."""

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.seen: list[TranscriptLine] = []

    async def summarise(self, lines: list[TranscriptLine]) -> str:
        self.seen = lines
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_an_llm_summary_is_used_when_it_answers_and_extractive_when_it_fails() -> None:
    events = vip_complaint().events
    llm = CannedLLM("Client unhappy with chipped hybrid nails; wants Anna.")
    packet = await build_packet(CID, events, config=CONFIG, summariser=llm)
    assert (packet.summary, packet.summary_source) == (
        "Client unhappy with chipped hybrid nails; wants Anna.",
        "llm",
    )
    assert [line.sender for line in llm.seen] == ["client", "bot", "client", "bot", "client"]

    broken = await build_packet(CID, events, config=CONFIG, summariser=CannedLLM(TimeoutError("slow")))
    assert broken.summary_source == "extractive" and broken.summary.startswith(
        "Client (Standard, pl) wrote 3"
    )
    empty = await build_packet(CID, events, config=CONFIG, summariser=CannedLLM("  "))
    assert empty.summary_source == "extractive"


async def test_unscored_conversations_can_be_scored_by_the_sentiment_model_seam() -> None:
    script = Script().client("hello").client("this is getting annoying").client("worst service ever")
    scores = {"hello": 0.1, "this is getting annoying": -0.5, "worst service ever": -0.9}
    packet = await build_packet(CID, script.events, config=CONFIG, scorer=scores.__getitem__)
    assert packet.sentiment is not None and packet.sentiment.scores == [0.1, -0.5, -0.9]
    assert [k.sentiment for k in packet.key_messages] == [0.1, -0.5, -0.9]
    assert packet.reason is None and packet.queued_at is None and packet.sla_deadline is None
    none = await build_packet(CID, Script().events, config=CONFIG)
    assert (
        none.sentiment is None
        and none.key_messages == []
        and none.summary == "Client (Standard) wrote 0 messages."
    )


async def test_claimed_contact_details_reach_the_agent_labelled_unverified_never_as_the_client() -> None:
    script = Script().client("hi, I'm James, VIP", "greet").client("my nails are peeling", "complaint", -0.6)
    claimed = {"phone": "+48 793 455 021", "name": "James"}
    first = next(i for i, e in enumerate(script.events) if isinstance(e, UserUttered))
    script.events[first] = script.events[first].model_copy(
        update={"metadata": {"sender": "client", "unverified_contact": claimed}}
    )
    packet = await build_packet("rest:attacker-1", script.events, config=CONFIG)
    assert packet.unverified_contact is not None
    assert packet.unverified_contact.model_dump(exclude_none=True) == claimed
    assert packet.client is None and packet.tier == "Standard"  # a claim is not a client
    plain = await build_packet(CID, Script().client("hello").events, config=CONFIG)
    assert plain.unverified_contact is None


async def test_the_packet_speaks_the_agents_language_not_the_bots_internal_names() -> None:
    script = Script()
    script.client("the colour is all wrong!!", "complaint", -0.7)
    script.client("asdfgh qwerty", "nlu_fallback", -0.1)
    script.bot("action_default_fallback", "Sorry, I didn't get that.")
    script.client('/inform{"location":"warsaw_mokotow"}', "inform", 0.0)
    script.client("what about the lateness fee?", "faq/lateness", -0.2)
    script.client("the colour is all wrong!!", "complaint", -0.7)
    script.client("The colour is all wrong!!", "complaint", -0.8)
    packet = await build_packet(CID, script.events, config=CONFIG)
    assert packet.summary.startswith(
        "Client (Standard) wrote 6 messages about complaint, unclear message, inform, lateness question."
    )
    assert "Bot tried: default fallback" in packet.summary
    assert "nlu_fallback" not in packet.summary and "action_" not in packet.summary
    texts = [k.text for k in packet.key_messages]
    assert not any(t.startswith("/") for t in texts)  # a button press is not something they said
    assert sum(t.casefold() == "the colour is all wrong!!" for t in texts) == 1  # quoted once
    assert ("nlu_fallback", 1) in [(i.name, i.count) for i in packet.intents]  # the data keeps codes
