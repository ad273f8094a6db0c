"""Stories and rules become the linear conversations the policies learn from."""

from __future__ import annotations

import itertools

from bot.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from bot.policies.featurize import SHOULD_NOT_BE_SET
from bot.policies.generator import augment, generate_trackers, rule_trackers, story_trackers

from .builders import act, checkpoint, data, either, intent, loop, rule, salon_domain, slot, story


def names(events: list[Event]) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, UserUttered):
            out.append(f"*{e.intent_name}")
        elif isinstance(e, ActionExecuted):
            out.append(e.name + ("!" if getattr(e, "unpredictable", False) else ""))
        elif isinstance(e, SlotSet):
            out.append(f"{e.name}={e.value}")
        elif isinstance(e, ActiveLoop):
            out.append(f"loop:{e.name}")
    return out


def test_listens_are_explicit_and_entities_fill_slots() -> None:
    domain = salon_domain()
    [t] = story_trackers(
        [story("s", intent("greet"), act("utter_greet"), intent("inform", city="Kyiv"), act("utter_ok"))],
        domain,
    )
    assert names(t.events) == [
        "action_listen",
        "*greet",
        "utter_greet",
        "action_listen",
        "*inform",
        "city=Kyiv",
        "utter_ok",
        "action_listen",
    ]
    assert not t.is_rule and not t.is_augmented


def test_or_steps_expand_into_one_conversation_each() -> None:
    domain = salon_domain()
    trackers = story_trackers(
        [
            story(
                "s",
                either(intent("greet"), intent("help")),
                act("utter_help"),
                either(slot("vip", True), slot("vip", False)),
            )
        ],
        domain,
    )
    assert sorted(" ".join(names(t.events)) for t in trackers) == [
        "action_listen *greet utter_help vip=False action_listen",
        "action_listen *greet utter_help vip=True action_listen",
        "action_listen *help utter_help vip=False action_listen",
        "action_listen *help utter_help vip=True action_listen",
    ]


def test_checkpoints_glue_parts_and_respect_slot_conditions() -> None:
    domain = salon_domain()
    stories = [
        story("start", intent("greet"), act("action_check_vip"), checkpoint("checked")),
        story("vip", checkpoint("checked", vip=True), act("utter_vip")),
        story("regular", checkpoint("checked"), intent("book"), act("booking_form")),
        story(
            "vip setter", intent("affirm"), act("action_check_vip"), slot("vip", True), checkpoint("checked")
        ),
    ]
    conversations = sorted(" ".join(names(t.events)) for t in story_trackers(stories, domain))
    assert conversations == [
        # the vip continuation only follows where vip was set
        "action_listen *affirm action_check_vip vip=True action_listen *book booking_form action_listen",
        "action_listen *affirm action_check_vip vip=True utter_vip action_listen",
        "action_listen *greet action_check_vip action_listen *book booking_form action_listen",
    ]


def test_checkpoint_cycles_terminate() -> None:
    domain = salon_domain()
    stories = [
        story("a", intent("greet"), act("utter_greet"), checkpoint("loop")),
        story("b", checkpoint("loop"), intent("help"), act("utter_help"), checkpoint("loop")),
    ]
    conversations = [" ".join(names(t.events)) for t in story_trackers(stories, domain)]
    assert conversations == ["action_listen *greet utter_greet action_listen *help utter_help"]


def test_a_story_opening_with_a_bot_action_cannot_predict_it() -> None:
    [t] = story_trackers([story("s", act("utter_help"), intent("affirm"), act("utter_ok"))], salon_domain())
    assert names(t.events) == ["utter_help!", "action_listen", "*affirm", "utter_ok", "action_listen"]


def test_rules_get_snippets_conditions_and_must_not_be_set() -> None:
    domain = salon_domain()
    [t] = rule_trackers(
        [
            rule(
                "submit",
                act("booking_form"),
                loop(None),
                act("action_book"),
                condition=[loop("booking_form"), slot("vip", None)],
            )
        ],
        domain,
    )
    assert t.is_rule
    assert names(t.events) == [
        "loop:booking_form",
        f"vip={SHOULD_NOT_BE_SET}",
        "...!",
        "booking_form",
        f"loop:{SHOULD_NOT_BE_SET}",
        "action_book",
        "action_listen",
    ]
    [start] = rule_trackers(
        [rule("hi", intent("greet"), act("utter_greet"), conversation_start=True)], domain
    )
    assert names(start.events) == ["action_listen", "*greet", "utter_greet", "action_listen"]
    [open_end] = rule_trackers(
        [rule("ask", intent("book"), act("utter_ask_service"), wait_for_user_input=False)], domain
    )
    assert names(open_end.events)[-3:] == ["utter_ask_service", "...", "action_listen"]


def test_augmentation_glues_story_ends_to_starts_deterministically() -> None:
    domain = salon_domain()
    stories = [
        story("hi", intent("greet"), act("utter_greet")),
        story("bye", intent("goodbye"), act("utter_goodbye")),
        story("thanks", intent("thank"), act("utter_welcome")),
    ]
    originals = story_trackers(stories, domain)
    first = augment(originals, factor=2, seed=42)
    again = augment(originals, factor=2, seed=42)
    assert [t.name for t in first] == [t.name for t in again]
    assert 0 < len(first) <= 20 and all(t.is_augmented for t in first)
    for t in first:
        seq = names(t.events)
        # one listen between glued stories, never two in a row
        assert all(not (x == y == "action_listen") for x, y in itertools.pairwise(seq))
        assert seq.count("action_listen") >= 3
    everything = generate_trackers(
        data(*stories, rule("r", intent("help"), act("utter_help"))), domain, augmentation_factor=2
    )
    assert sum(t.is_rule for t in everything) == 1
    assert sum(not t.is_rule and not t.is_augmented for t in everything) == 3
