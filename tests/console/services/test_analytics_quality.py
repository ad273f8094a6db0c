"""Rules-only quality scoring of a conversation's replies, with known answers: a model agent
reply scores 1 in every category that applies, a poor one fails the ones it breaks, each
with its one-line reason; empathy applies only when the client was upset."""

from __future__ import annotations

from bot.models import TranscriptEntry
from console.services.analytics.quality import CATEGORIES, score_conversation


def line(seq: int, sender: str, text: str) -> TranscriptEntry:
    return TranscriptEntry(seq=seq, sender=sender, text=text, timestamp=float(seq))  # type: ignore[arg-type]


def by_category(score: object) -> dict[str, tuple[float | None, str]]:
    return {c.category: (c.score, c.reason) for c in score.categories}  # type: ignore[attr-defined]


def test_a_model_agent_reply_scores_one_everywhere_it_applies() -> None:
    lines = [
        line(1, "client", "My lashes are ruined and I am really upset."),
        line(2, "bot", "Let me find a person for you."),
        line(3, "agent", "Hello, I am Anna. I am so sorry about your lashes."),
        line(
            4,
            "agent",
            "I have booked you a free correction on Friday at 14:00. Is there anything else I can do?",
        ),
    ]
    score = score_conversation(lines, "agent")
    assert [c.category for c in score.categories] == list(CATEGORIES)
    cats = by_category(score)
    assert all(value == 1.0 for value, _ in cats.values()), cats
    assert cats["empathy"][1] == "acknowledged the client's frustration"
    assert (score.replies, score.overall) == (2, 1.0)


def test_a_poor_reply_fails_the_categories_it_breaks_with_reasons() -> None:
    lines = [
        line(1, "client", "This is terrible, I want a refund for the burn"),
        line(2, "agent", "calm down. as i said it is NOT my problem!!"),
        line(3, "client", "That's not what I asked"),
    ]
    cats = by_category(score_conversation(lines, "agent"))
    assert cats["greeting"] == (0.0, "the first reply has no greeting")
    assert cats["empathy"] == (0.0, "the client was upset and nothing acknowledged it")
    assert cats["tone"] == (0.0, "dismissive wording")
    assert cats["closing"] == (0.0, "no closing in the last reply")
    assert cats["solution_offered"] == (0.0, "no concrete answer or next step")
    assert cats["comprehension"] == (0.0, "the client said they were misunderstood")
    assert cats["spelling_grammar"][0] == 0.0  # two lower-case starts, '!!', a lower-case 'i'
    assert cats["spelling_grammar"][1] == "sentence starts in lower case: 'calm down.'"


def test_empathy_does_not_apply_to_a_calm_client_and_the_bot_is_scored_alike() -> None:
    lines = [
        line(1, "client", "Dzień dobry, do której jesteście otwarci?"),
        line(2, "bot", "Dzień dobry! Jesteśmy otwarci do 21:00. Miłego dnia!"),
    ]
    score = score_conversation(lines, "bot")
    cats = by_category(score)
    assert cats["empathy"] == (None, "the client was not upset")
    assert (cats["greeting"][0], cats["closing"][0], cats["solution_offered"][0]) == (1.0, 1.0, 1.0)
    assert score.overall == 1.0
    assert score_conversation(lines, "agent").overall is None  # no agent replies: nothing to score


def test_long_sentences_lower_readability() -> None:
    long = " ".join(["word"] * 40) + "."
    cats = by_category(
        score_conversation([line(1, "client", "hi"), line(2, "agent", "Hello. " + long)], "agent")
    )
    # sentences of 1 and 40 words: half over the limit, average just over 20
    assert cats["readability"] == (0.49, "20 words per sentence on average, 1 over 25")
