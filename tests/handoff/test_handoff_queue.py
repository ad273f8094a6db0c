"""Queue order from tier, SLA time left, sentiment and reason."""

from __future__ import annotations

from scripted import Script

from bot.events import HandoffRequested
from handoff.config import HandoffConfig, SLAConfig
from handoff.queue import QueueItem, queue_item, rank, rank_item
from handoff.state import transition

NOW = 10_000.0
CONFIG = HandoffConfig()


def item(cid: str, tier: str, left: float, **kw: object) -> QueueItem:
    sla = CONFIG.sla_seconds(tier)  # type: ignore[arg-type]
    return QueueItem(conversation_id=cid, tier=tier, queued_at=NOW - (sla - left), **kw)  # type: ignore[arg-type]


def order(*items: QueueItem) -> list[str]:
    return [r.item.conversation_id for r in rank(list(items), NOW, CONFIG)]


def test_default_slas() -> None:
    assert [CONFIG.sla_seconds(t) for t in ("VIP", "Premium", "Standard")] == [60, 120, 300]


def test_a_vip_complaint_with_20s_left_outranks_a_standard_one_with_200s_left() -> None:
    vip = item("vip", "VIP", 20, sentiment=-0.6, reason="rule:vip_complaint")
    std = item("std", "Standard", 200, sentiment=-0.6, reason="client_request")
    assert order(std, vip) == ["vip", "std"]
    ranked = rank_item(vip, NOW, CONFIG)
    assert ranked.seconds_left == 20 and not ranked.overdue and ranked.deadline == NOW + 20
    assert ranked.explanation == (
        "VIP, 20 s left of 60 s, sentiment -0.60, reason rule:vip_complaint (+1) -> priority 7.57"
    )


def test_tier_orders_equal_waits_and_sentiment_breaks_ties_within_a_tier() -> None:
    assert order(item("s", "Standard", 150), item("p", "Premium", 60), item("v", "VIP", 30)) == [
        "v",
        "p",
        "s",
    ]
    assert order(
        item("calm", "Premium", 60, sentiment=0.3), item("angry", "Premium", 60, sentiment=-0.8)
    ) == ["angry", "calm"]


def test_an_overdue_standard_client_eventually_outranks_a_fresh_vip() -> None:
    fresh_vip = item("vip", "VIP", 60)
    starving = item("std", "Standard", -200)
    ranked = rank_item(starving, NOW, CONFIG)
    assert ranked.overdue and ranked.explanation.startswith("Standard, 200 s overdue (SLA 300 s)")
    assert order(fresh_vip, starving) == ["std", "vip"]
    # but a Standard client just past the deadline does not jump a VIP about to miss theirs
    assert order(item("std", "Standard", -10), item("vip", "VIP", 5)) == ["vip", "std"]


def test_a_safety_case_jumps_the_queue() -> None:
    assert order(item("vip", "VIP", 10), item("burn", "Standard", 290, reason="rule:safety")) == [
        "burn",
        "vip",
    ]


def test_ties_go_to_the_earlier_deadline_and_slas_come_from_config() -> None:
    a = QueueItem(conversation_id="a", tier="Standard", queued_at=NOW - 100)
    b = QueueItem(conversation_id="b", tier="Standard", queued_at=NOW - 100)
    assert order(b, a) == ["a", "b"]
    strict = CONFIG.model_copy(
        update={"sla": SLAConfig(first_response_seconds={"VIP": 30, "Premium": 60, "Standard": 90})}
    )
    assert rank([a], NOW, strict)[0].overdue


def test_a_queued_conversation_becomes_a_queue_item_from_its_log() -> None:
    script = Script().client("Ból i opuchlizna po zabiegu", "complaint", -0.6, "pl")
    assert queue_item("widget:1", script.events, CONFIG) is None  # still the bot's
    at = script.now + 1
    script.add(
        HandoffRequested(reason="rule:safety", detail="swelling", timestamp=at),
        *transition("bot", "queued", actor="bot", timestamp=at),
    )
    queued = queue_item("widget:1", script.events, CONFIG, category="skin")
    assert queued is not None
    assert (
        queued.tier,
        queued.queued_at,
        queued.reason,
        queued.language,
        queued.category,
        queued.sentiment,
    ) == ("Standard", at, "rule:safety", "pl", "skin", -0.6)
    assert rank_item(queued, at + 10, CONFIG).explanation.startswith("Standard, 290 s left of 300 s")
