"""Small domains, stories and conversations for the policy tests, built in code."""

from __future__ import annotations

from typing import Any

from bot.domain import Domain, EntityDef, FormDef, IntentDef, ResponseVariation, SlotDef, SlotMapping
from bot.events import ActionExecuted, Event, SessionStarted, UserUttered
from bot.tracker import Tracker
from bot.training_data import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    Step,
    Story,
    StoryData,
    UserStep,
)

RESPONSES = [
    "utter_greet",
    "utter_goodbye",
    "utter_welcome",
    "utter_help",
    "utter_iamabot",
    "utter_ask_service",
    "utter_booked",
    "utter_cancelled",
    "utter_vip",
    "utter_ok",
]


def salon_domain(**slots: SlotDef) -> Domain:
    """A beauty-salon bot: greetings, a booking form, a few slots of every type."""
    base_slots = {
        "service": SlotDef(
            name="service",
            type="text",
            influence_conversation=False,
            mappings=[SlotMapping(type="from_entity", entity="service")],
        ),
        "vip": SlotDef(name="vip", type="bool"),
        "city": SlotDef(name="city", type="text", mappings=[SlotMapping(type="from_entity", entity="city")]),
    }
    base_slots.update(slots)
    return Domain(
        intents=[
            IntentDef(name=n)
            for n in ("greet", "goodbye", "thank", "help", "bot_challenge", "deny", "affirm", "inform")
        ]
        + [IntentDef(name="book", use_entities=[])],
        entities=[
            EntityDef(name="service"),
            EntityDef(name="city"),
            EntityDef(name="mood", influence_conversation=False),
        ],
        slots=base_slots,
        responses={name: [ResponseVariation(text=name)] for name in RESPONSES},
        actions=["action_book", "action_check_vip"],
        forms={"booking_form": FormDef(name="booking_form", required_slots=["service"])},
    )


def intent(name: str, text: str | None = None, **entities: Any) -> UserStep:
    """A user step: ``intent("inform", service="massage")``."""
    return UserStep(intent=name, text=text, entities=[{k: v} for k, v in entities.items()])


def act(name: str) -> ActionStep:
    return ActionStep(name=name)


def slot(name: str, value: Any) -> SlotStep:
    return SlotStep(name=name, value=value)


def loop(name: str | None) -> ActiveLoopStep:
    return ActiveLoopStep(name=name)


def checkpoint(name: str, **conditions: Any) -> CheckpointStep:
    return CheckpointStep(name=name, slot_was_set=[SlotStep(name=k, value=v) for k, v in conditions.items()])


def either(*alternatives: UserStep | SlotStep) -> OrStep:
    return OrStep(alternatives=list(alternatives))


def story(name: str, *steps: Step) -> Story:
    return Story(name=name, steps=list(steps), source=f"stories.yml:{name}")


def rule(
    name: str,
    *steps: Step,
    condition: list[Step] | None = None,
    conversation_start: bool = False,
    wait_for_user_input: bool = True,
) -> Story:
    return Story(
        name=name,
        steps=list(steps),
        is_rule=True,
        condition=condition or [],
        conversation_start=conversation_start,
        wait_for_user_input=wait_for_user_input,
        source=f"rules.yml:{name}",
    )


def data(*items: Story) -> StoryData:
    return StoryData(stories=[s for s in items if not s.is_rule], rules=[s for s in items if s.is_rule])


def user(name: str, **entities: Any) -> UserUttered:
    ents = [{"entity": k, "value": v} for k, v in entities.items()]
    return UserUttered(text=name, parse_data={"intent": {"name": name, "confidence": 1.0}, "entities": ents})


def action(name: str) -> ActionExecuted:
    return ActionExecuted(name=name)


def conversation(domain: Domain, *events: Event | str) -> Tracker:
    """A live conversation as the engine stores it (session start first): strings are
    actions, ``*intent`` strings are user messages (after the bot's listen)."""
    out: list[Event] = [
        ActionExecuted(name="action_session_start"),
        SessionStarted(),
        ActionExecuted(name="action_listen"),
    ]
    for e in events:
        if isinstance(e, str) and e.startswith("*"):
            if not (isinstance(out[-1], ActionExecuted) and out[-1].name == "action_listen"):
                out.append(ActionExecuted(name="action_listen"))
            out.append(user(e[1:]))
        elif isinstance(e, str):
            out.append(ActionExecuted(name=e))
        else:
            out.append(e)
    return Tracker.for_domain("test", domain, out)
