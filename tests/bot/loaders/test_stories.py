"""Story, rule and test-story files load into :class:`StoryData` with file:line sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.loaders import load_stories
from bot.training_data import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    EntitySpan,
    OrStep,
    SlotStep,
    UserStep,
)

from .helpers import write

BOTS = Path("rasa-bots")


def test_helpdesk_rules_with_or_and_condition(eval_dir: Path) -> None:
    path = eval_dir / BOTS / "helpdesk-assistant" / "data" / "rules.yml"
    data = load_stories([path])
    assert len(data.rules) == 7 and data.stories == []
    start = next(r for r in data.rules if r.name == "start open incident form")
    assert start.is_rule and start.source == f"{path}:18"
    assert isinstance(start.steps[0], OrStep)
    assert [a.intent for a in start.steps[0].alternatives] == [
        "open_incident",
        "password_reset",
        "problem_email",
    ]
    assert start.steps[1:] == [
        ActionStep(name="open_incident_form"),
        ActiveLoopStep(name="open_incident_form"),
    ]
    submit = next(r for r in data.rules if r.name == "submit open incident form")
    assert submit.condition == [ActiveLoopStep(name="open_incident_form")]
    assert submit.steps == [
        ActionStep(name="open_incident_form"),
        ActiveLoopStep(name=None),
        ActionStep(name="action_open_incident"),
    ]


def test_financial_rule_condition_with_null_slot(eval_dir: Path) -> None:
    data = load_stories([eval_dir / BOTS / "financial-demo" / "data" / "rules" / "rules.yml"])
    rule = next(
        r for r in data.rules if r.name == "Submit cc_payment_form while not switched from previous form"
    )
    assert rule.condition == [
        ActiveLoopStep(name="cc_payment_form"),
        SlotStep(name="previous_form_name", value=None),
    ]
    assert rule.steps[2] == SlotStep(name="requested_slot", value=None)


def test_financial_test_stories_keep_user_text_and_entities(eval_dir: Path) -> None:
    data = load_stories([eval_dir / BOTS / "financial-demo" / "tests" / "test_stories.yml"])
    assert len(data.stories) == 48
    step = next(
        s
        for story in data.stories
        for s in story.steps
        if isinstance(s, UserStep) and s.text and "emblm" in s.text
    )
    assert step.intent == "pay_cc"
    assert step.text == "i want to pay off my emblm"
    assert step.entities == [EntitySpan(start=21, end=26, entity="credit_card", value="emblem")]


def test_helpdesk_test_stories_version_20(eval_dir: Path) -> None:
    data = load_stories([eval_dir / BOTS / "helpdesk-assistant" / "tests" / "test_conversations.yml"])
    assert len(data.stories) == 12
    first = data.stories[0]
    assert first.name == "bot challenge"
    assert first.steps == [
        UserStep(intent="bot_challenge", text="Are you a bot?"),
        ActionStep(name="utter_iamabot"),
    ]


STORIES = """
    version: "3.1"
    stories:
    - story: booking
      steps:
      - checkpoint: start
        slot_was_set:
        - vip: true
      - intent: book
        entities:
        - city: Berlin
        - city: Paris
          role: destination
        - date
      - slot_was_set:
        - city
        - count: 2
      - or:
        - intent: affirm
        - slot_was_set:
          - confirmed: true
      - action: utter_booked
      - bot: Your table is booked.
      - user: |-
          I want [two]{"entity": "count", "value": 2} seats
      - user: |-
          /inform{"city": "Rome", "count": [1, 2]}
        intent: inform
      - metadata: {note: ignored}
      - active_loop: booking_form
      - checkpoint: end
    rules:
    - rule: greet at the start
      conversation_start: true
      steps:
      - intent: greet
      - action: utter_greet
    - rule: hand back
      wait_for_user_input: false
      condition:
      - active_loop: null
      - slot_was_set:
        - handoff: true
      steps:
      - intent: /bye
      - action: utter_bye
"""


def test_all_step_kinds(tmp_path: Path) -> None:
    write(tmp_path, {"stories.yml": STORIES})
    data = load_stories([tmp_path / "stories.yml"])
    steps = data.stories[0].steps
    assert steps[0] == CheckpointStep(name="start", slot_was_set=[SlotStep(name="vip", value=True)])
    assert steps[1] == UserStep(
        intent="book",
        entities=[
            {"entity": "city", "value": "Berlin"},
            {"entity": "city", "value": "Paris", "role": "destination"},
            {"entity": "date", "value": ""},
        ],
    )
    assert steps[2] == SlotStep(name="city", any_value=True)
    assert steps[3] == SlotStep(name="count", value=2)
    assert steps[4] == OrStep(
        alternatives=[UserStep(intent="affirm"), SlotStep(name="confirmed", value=True)]
    )
    assert steps[5] == ActionStep(name="utter_booked")
    assert steps[6] == ActionStep(bot_text="Your table is booked.")
    assert steps[7] == UserStep(
        text="I want two seats", entities=[EntitySpan(start=7, end=10, entity="count", value=2)]
    )
    assert steps[8] == UserStep(
        intent="inform",
        text='/inform{"city": "Rome", "count": [1, 2]}',
        entities=[
            {"entity": "city", "value": "Rome"},
            {"entity": "count", "value": 1},
            {"entity": "count", "value": 2},
        ],
    )
    assert steps[9:] == [ActiveLoopStep(name="booking_form"), CheckpointStep(name="end")]
    assert data.stories[0].source == f"{tmp_path / 'stories.yml'}:3"


def test_rule_options(tmp_path: Path) -> None:
    write(tmp_path, {"stories.yml": STORIES})
    greet, hand_back = load_stories([tmp_path / "stories.yml"]).rules
    assert greet.conversation_start is True and greet.wait_for_user_input is True
    assert hand_back.wait_for_user_input is False and hand_back.conversation_start is False
    assert hand_back.condition == [ActiveLoopStep(name=None), SlotStep(name="handoff", value=True)]
    assert hand_back.steps[0] == UserStep(intent="bye")  # Rasa drops the leading slash


def test_story_without_steps_is_skipped_with_warning(tmp_path: Path) -> None:
    write(tmp_path, {"s.yml": "stories:\n- story: empty\n  steps: []\n"})
    warnings: list[str] = []
    assert load_stories([tmp_path / "s.yml"], warnings).stories == []
    assert warnings == [f"{tmp_path / 's.yml'}:2: story 'empty' has no steps and is skipped"]


def _error(tmp_path: Path, text: str) -> FormatError:
    write(tmp_path, {"s.yml": text})
    with pytest.raises(FormatError) as err:
        load_stories([tmp_path / "s.yml"])
    assert err.value.path == str(tmp_path / "s.yml")
    return err.value


def test_bad_step_key_names_story_step_and_line(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        """
        stories:
        - story: y
          steps:
          - intent: greet
          - action: utter_greet
          - acton: utter_help
    """,
    )
    assert err.line == 6
    assert err.reason == "story 'y' step 3: unknown step key 'acton'"


def test_mixed_step_keys(tmp_path: Path) -> None:
    err = _error(tmp_path, "rules:\n- rule: r\n  steps:\n  - intent: greet\n    action: utter_greet\n")
    assert err.line == 5 and "rule 'r' step 1 (intent): unknown key 'action'" in err.reason


def test_bad_or_alternative(tmp_path: Path) -> None:
    err = _error(tmp_path, "stories:\n- story: s\n  steps:\n  - or:\n    - action: x\n")
    assert err.line == 5 and "'or' alternatives" in err.reason


def test_unknown_story_key(tmp_path: Path) -> None:
    err = _error(tmp_path, "stories:\n- story: s\n  stepz: []\n")
    assert err.line == 3 and "unknown key 'stepz'" in err.reason


def test_bad_annotation_in_user_text(tmp_path: Path) -> None:
    err = _error(tmp_path, 'stories:\n- story: s\n  steps:\n  - user: hi [x]{"entity"}\n')
    assert err.line == 4 and "not valid JSON" in err.reason


def test_an_entity_called_entity_is_read_as_rasa_reads_it(tmp_path: Path) -> None:
    # Rasa's own demo bot (format 2.0) has this step; Rasa reads every key but role/group as
    # the entity's name, so this is the entity `entity` with the value "date ranges".
    write(
        tmp_path,
        {
            "stories.yml": """
version: "2.0"
stories:
- story: entity named entity
  steps:
  - intent: enter_data
    entities:
    - entity: date ranges
  - action: utter_duckling
  - intent: enter_data
    entities:
    - entity: city
      value: Kraków
"""
        },
    )
    steps = load_stories([tmp_path / "stories.yml"]).stories[0].steps
    assert steps[0] == UserStep(intent="enter_data", entities=[{"entity": "entity", "value": "date ranges"}])
    # both keys: the explicit form {entity, value}
    assert steps[2] == UserStep(intent="enter_data", entities=[{"entity": "city", "value": "Kraków"}])
