"""The outcome rules, defined once (handoff/outcomes.py), on hand-made facts."""

from __future__ import annotations

from handoff.outcomes import (
    Outcome,
    OutcomeInput,
    classify,
    confirmed,
    first_contact,
    is_fallback,
    is_substantive,
    reason_words,
)

DAY = 86400.0


def test_greetings_only_and_abandoned() -> None:
    assert classify(OutcomeInput(answers=3), human_replied=False) == Outcome.GREETING_ONLY
    assert classify(OutcomeInput(substantive_messages=1), human_replied=False) == Outcome.ABANDONED
    assert not is_substantive("greet") and not is_substantive("thank")
    assert is_substantive("ask_prices") and is_substantive(None) and is_substantive("nlu_fallback")


def test_the_bot_could_not_help() -> None:
    asked = {"substantive_messages": 2}
    last_fallback = OutcomeInput(**asked, answers=1, fallbacks=1, last_answer_fallback=True)
    assert classify(last_fallback, human_replied=False) == Outcome.UNRESOLVED
    repeated = OutcomeInput(**asked, answers=2, fallbacks=2)
    assert classify(repeated, human_replied=False) == Outcome.UNRESOLVED
    only_fallbacks = OutcomeInput(**asked, fallbacks=1, last_answer_fallback=True)
    assert classify(only_fallbacks, human_replied=False) == Outcome.UNRESOLVED


def test_containment_is_deducted_by_a_return_inside_the_window() -> None:
    answered = OutcomeInput(substantive_messages=1, answers=1)
    assert classify(answered, human_replied=False) == Outcome.CONTAINED
    back = answered.model_copy(update={"returned_after": 2 * DAY})
    assert classify(back, human_replied=False) == Outcome.UNRESOLVED
    assert classify(back, human_replied=False, reopen_days=1) == Outcome.CONTAINED
    assert not first_contact(back, Outcome.CONTAINED) and first_contact(answered, Outcome.CONTAINED)


def test_a_person_resolves_only_with_a_delivered_reply_and_no_reopen() -> None:
    handed = OutcomeInput(substantive_messages=1, handoffs=1, resolved_at=100.0)
    assert classify(handed, human_replied=True) == Outcome.RESOLVED
    assert classify(handed, human_replied=False) == Outcome.ASSISTED  # the reply never arrived
    waiting = OutcomeInput(substantive_messages=1, handoffs=1)
    assert classify(waiting, human_replied=False) == Outcome.ASSISTED
    reopened = handed.model_copy(update={"reopened_after": 3 * DAY})
    assert classify(reopened, human_replied=True) == Outcome.ASSISTED
    assert classify(reopened, human_replied=True, reopen_days=2) == Outcome.RESOLVED


def test_confirmation_and_fallback_lines_and_reasons_in_words() -> None:
    assert confirmed(OutcomeInput(confirmed=True)) and confirmed(OutcomeInput(csat_score=4))
    assert not confirmed(OutcomeInput(csat_score=3))
    assert is_fallback({"utter_action": "utter_default"})
    assert is_fallback({"knowledge": {"answered": False}})
    assert not is_fallback({"knowledge": {"answered": True}}) and not is_fallback({})
    assert reason_words("rule:vip_complaint") == "Rule: VIP complaint"
    assert reason_words("client_request") == "Client asked for a person"
    assert reason_words(None) == "Reason not recorded"
    assert reason_words("rule:") == "Rule: unnamed"
    assert reason_words("named_concierge_offline") == "Named concierge offline"
