"""``actions.sdk`` behaves like the real rasa_sdk: the same script, run once with rasa-sdk
(in its own venv) and once with ours, must produce the same events, messages, tracker
readings and form validation results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from action_testkit import user_message

from actions.remote import domain_as_rasa_dict
from bot.domain import ACTION_LISTEN, REQUESTED_SLOT, Domain
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
)
from bot.tracker import Tracker

# Written like any rasa_sdk actions file: it runs with whichever library is installed.
SCRIPT = r"""
import asyncio
import json
import sys

try:
    from rasa_sdk import Tracker
    from rasa_sdk.events import (
        ActionExecuted, ActionExecutionRejected, ActionReverted, ActiveLoop, AllSlotsReset, BotUttered,
        ConversationPaused, ConversationResumed, FollowupAction, LoopInterrupted, Restarted, SessionStarted,
        SlotSet, UserUttered, UserUtteranceReverted,
    )
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.forms import FormValidationAction, ValidationAction
    LIBRARY = "rasa_sdk"
except ImportError:
    from actions.sdk import (
        ActionExecuted, ActionExecutionRejected, ActionReverted, ActiveLoop, AllSlotsReset, BotUttered,
        CollectingDispatcher, ConversationPaused, ConversationResumed, FollowupAction, FormValidationAction,
        LoopInterrupted, Restarted, SessionStarted, SlotSet, Tracker, UserUttered, UserUtteranceReverted,
        ValidationAction,
    )
    LIBRARY = "concierge"


class ValidateOpenIncidentForm(FormValidationAction):
    def name(self):
        return "validate_open_incident_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        return ["caller_id"] + domain_slots

    def extract_caller_id(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text", "")
        return {"caller_id": text.split("#")[1].split()[0]} if "#" in text else {}

    def validate_priority(self, value, dispatcher, tracker, domain):
        if value in ("low", "medium", "high"):
            return {"priority": value}
        dispatcher.utter_message(response="utter_no_priority", reason="unknown")
        return {"priority": None}

    async def validate_email(self, value, dispatcher, tracker, domain):
        return {"email": value.lower(), "previous_email": tracker.get_slot("email")}


class ValidateGlobal(ValidationAction):
    def validate_handoff_to(self, value, dispatcher, tracker, domain):
        return {"handoff_to": None}


def events():
    return [
        UserUttered("hi", {"intent": {"name": "greet"}}, input_channel="rest"),
        BotUttered("hello", {"buttons": []}, {"x": 1}),
        SlotSet("a", [1, 2]), Restarted(), SessionStarted(), UserUtteranceReverted(), AllSlotsReset(),
        ActionReverted(), FollowupAction("action_x"), ConversationPaused(), ConversationResumed(),
        ActionExecuted("action_x", "RulePolicy", 0.9), ActiveLoop("some_form"), ActiveLoop(None),
        LoopInterrupted(True), ActionExecutionRejected("some_form", "TEDPolicy", 0.3),
    ]


def messages():
    d = CollectingDispatcher()
    d.utter_message(text="plain")
    d.utter_message(response="utter_greet", name="Ola")
    d.utter_message(text="pick", buttons=[{"title": "A", "payload": "/a"}], image="http://i/x.png",
                    json_message={"k": [1]}, attachment="http://f/y.pdf", elements=[{"e": 1}], extra="v")
    return d.messages


def readings(t):
    return {
        "sender": t.sender_id,
        "slot": t.get_slot("email"),
        "missing": t.get_slot("nope"),
        "entities": list(t.get_latest_entity_values("email")),
        "role_entities": list(t.get_latest_entity_values("city", entity_role="from")),
        "intent": t.get_intent_of_latest_message(),
        "intent_with_fallback": t.get_intent_of_latest_message(skip_fallback_intent=False),
        "loop": t.active_loop_name,
        "channel": t.get_latest_input_channel(),
        "paused": t.is_paused(),
        "after_restart": len(t.events_after_latest_restart()),
        "applied": [e["event"] for e in t.applied_events()],
        "last_action_is_form": t.last_executed_action_has("open_incident_form"),
        "last_user": (t.get_last_event_for("user") or {}).get("text"),
        "to_validate": t.slots_to_validate(),
        "state_keys": sorted(t.current_state()),
        "latest_action": t.latest_action_name,
    }


async def validations(state, domain):
    out = []
    for action in (ValidateOpenIncidentForm(), ValidateGlobal()):
        dispatcher = CollectingDispatcher()
        result = await action.run(dispatcher, Tracker.from_dict(json.loads(json.dumps(state))), domain)
        out.append({"name": action.name(), "events": result, "messages": dispatcher.messages})
    return out


payload = json.load(sys.stdin)
print(json.dumps({
    "library": LIBRARY,
    "events": events(),
    "messages": messages(),
    "readings": readings(Tracker.from_dict(payload["state"])),
    "validations": asyncio.run(validations(payload["state"], payload["domain"])),
}))
"""


def run_script(python: Path, folder: Path, payload: dict[str, Any], pythonpath: str = "") -> dict[str, Any]:
    script = folder / "compat_script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [str(python), str(script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{python} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def validation_tracker(domain: Domain) -> Tracker:
    """A conversation in the middle of the helpdesk form, with the slot candidates last,
    as our FormAction hands it to a validation action."""
    events = [
        ActionExecuted(name=ACTION_LISTEN),
        user_message("old", "greet"),
        Restarted(),
        ActionExecuted(name=ACTION_LISTEN),
        user_message("open a ticket", "open_incident"),
        ActionExecuted(name="open_incident_form"),
        ActiveLoop(name="open_incident_form"),
        SlotSet(name=REQUESTED_SLOT, value="priority"),
        BotUttered(text="What is the priority?"),
        ActionExecuted(name=ACTION_LISTEN),
        user_message("undo me", "inform"),
        UserUtteranceReverted(),
        ActionExecuted(name=ACTION_LISTEN),
        user_message(
            "urgent, caller #4711 Ola@Mariia.example, from Kraków",
            "nlu_fallback",
            [
                {"entity": "priority", "value": "urgent"},
                {"entity": "email", "value": "Ola@Mariia.example"},
                {"entity": "city", "value": "Kraków", "role": "from"},
            ],
            ranking=[("nlu_fallback", 0.3), ("inform", 0.29)],
        ),
        ActionExecutionRejected(name="some_other_action"),
        SlotSet(name="email", value="Ola@Mariia.example"),
        SlotSet(name=REQUESTED_SLOT, value="priority"),
        ActionExecuted(name="open_incident_form"),
        SlotSet(name="priority", value="urgent"),
        SlotSet(name="email", value="Ola@Mariia.example"),
        SlotSet(name="handoff_to", value="billing"),
    ]
    return Tracker.for_domain("client-7", domain, events)


def test_our_sdk_matches_rasa_sdk(helpdesk_domain, rasa_sdk_python, repo_dir, tmp_path) -> None:
    payload = {
        "state": validation_tracker(helpdesk_domain).current_state(),
        "domain": domain_as_rasa_dict(helpdesk_domain),
    }
    theirs = run_script(rasa_sdk_python, tmp_path, payload)
    ours = run_script(Path(sys.executable), tmp_path, payload, pythonpath=str(repo_dir))
    assert theirs.pop("library") == "rasa_sdk"
    assert ours.pop("library") == "concierge"
    assert ours == theirs

    # And what both say is what a form needs.
    form, global_validation = ours["validations"]
    form_slots = {e["name"]: e["value"] for e in form["events"]}
    assert form_slots == {
        "caller_id": "4711",
        "priority": None,
        "email": "ola@mariia.example",
        "previous_email": "Ola@Mariia.example",
        REQUESTED_SLOT: "priority",
    }
    assert form["messages"][0]["response"] == "utter_no_priority"
    assert {e["name"]: e["value"] for e in global_validation["events"]} == {"handoff_to": None}
    readings = ours["readings"]
    assert readings["intent"] == "inform" and readings["intent_with_fallback"] == "nlu_fallback"
    assert readings["entities"] == ["Ola@Mariia.example"] and readings["role_entities"] == ["Kraków"]
    assert readings["loop"] == "open_incident_form"
