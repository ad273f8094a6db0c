"""Automated quality scoring of one conversation's replies, bot or person, by rules (issue 14
item 6; offline, no keys, no model).

The eight categories of Zendesk's auto-QA, each scored 0-1 with a one-line reason:
greeting, empathy, spelling & grammar, closing, solution offered, tone, readability,
comprehension. The rules read the transcript (what the client and the speaker wrote) in
English, Polish and Ukrainian. A category that does not apply (no upset client: empathy) is
``None`` and left out of the overall score, so it neither helps nor hurts.

The rules live in ``handoff`` beside the outcome rules for the same reason: the
``quality_scores`` read model (:mod:`handoff.quality_scores`) scores every resolved
conversation in the append's transaction, and read models are registered and rebuilt from
here. The console's LLM judge (:mod:`console.services.analytics.quality_judge`) falls back to
these rules for every category it does not answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from bot.models import TranscriptEntry

Speaker = Literal["bot", "agent"]
Source = Literal["rules", "llm"]
CATEGORIES = (
    "greeting",
    "empathy",
    "spelling_grammar",
    "closing",
    "solution_offered",
    "tone",
    "readability",
    "comprehension",
)
GREETINGS = re.compile(
    r"\b(hi|hello|hey|good (morning|afternoon|evening|day)|welcome|dzie[nń] dobry|dobry wiecz[oó]r|"
    r"cze[sś][cć]|witam|witaj|добрий (день|вечір|ранок)|доброго (дня|вечора|ранку)|вітаю|привіт)\b",
    re.IGNORECASE,
)
EMPATHY = re.compile(
    r"\b(sorry|apologi[sz]e|understand|i hear you|that must|frustrat|przepraszam|przykro|rozumiem|"
    r"вибачте|перепрошую|розумію|шкода)",
    re.IGNORECASE,
)
CLOSINGS = re.compile(
    r"(anything else|have a (great|nice|good|lovely|wonderful)|take care|glad (i|we) could help|"
    r"thank you|thanks|my pleasure|you'?re welcome|see you|enjoy|good luck|hope (you|she|he|they)|"
    r"sorry again|all the best|any (other|more|further) questions|"
    r"w czymś jeszcze|miłego|dziękuj|do zobaczenia|pozdrawiam|zdrowia|powodzenia|"
    r"чимось ще|гарного|дякую|дякуємо|до зустрічі|гарних|успіхів|будь ласка, звертайтеся)",
    re.IGNORECASE,
)
#: a request for the client's answer that does not end in '?' ("let me know which suits you")
AWAITS_ANSWER = re.compile(
    r"(let (me|us) know|da[cć] zna[cć]|daj(cie)? zna[cć]|proszę o informację|дайте знати|напишіть, як)",
    re.IGNORECASE,
)
SOLUTIONS = re.compile(
    r"(https?://|\b\d{1,2}[:.]\d{2}\b|\b\d+ ?(pln|zł|zl|зл|€|eur)\b|\byou can\b|\bplease\b|\bbook|"
    r"\bi( have|'ve) (booked|moved|refunded|cancel+ed|sent|added|paused|flagged)|\bwe (will|'ll)\b|"
    r"możesz|proszę|zarezerw|можете|будь ласка|забронюв)",
    re.IGNORECASE,
)
#: a direct answer: yes/no, what is or is not allowed, available, provided, possible
ANSWERS = re.compile(
    r"^\W*((hi|hello|cześć|czesc|dzień dobry|привіт|добрий день)\W+)?"
    r"((yes|no|tak|nie|так|ні)[,.!]|(unfortunately|absolutely|of course|niestety|oczywiście|на жаль)\b)|"
    r"\b(is|are|aren'?t|isn'?t|not) (allowed|available|included|possible)|\bthere (is|are)\b|"
    r"\bwe (have|use|provide|offer|sell|accept)\b|\b(wear|bring|arrive)\b|"
    r"\b(można|mamy|możemy|mog[eę]|przygotujemy|oferujemy)\b|(можна|можу|маємо|пропонуємо)",
    re.IGNORECASE,
)
RUDE = re.compile(
    r"\b(calm down|you should have (known|checked|read|called|come|left|asked|booked|told)|"
    r"should have left earlier|obviously|as i (already )?said|not my problem|whatever|stupid|"
    r"(that'?s|those are) the rules|nothing i can do|"
    r"uspokój się|trzeba było|takie są zasady|nic nie (poradzę|mogę zrobić)|nie mój problem|"
    r"заспокойтеся|такі правила|нічого не можу|треба було)\b",
    re.IGNORECASE,
)
MISUNDERSTOOD = re.compile(
    r"(that'?s not what i (asked|meant)|you (don'?t|do not) understand|i already (said|told)|"
    r"\bi (said|asked|was asking) (about|for)?|not what i|"
    r"nie o to (pytałem|pytałam|chodzi)|pyta(łe|ła)?m o|pytam o|"
    r"не те|я вже казав|я вже казала|я питал|я запитувал|я питаю про)",
    re.IGNORECASE,
)
#: a client asking again, "but can I ...?": the first answer missed the question
ASKED_AGAIN = re.compile(r"^\s*(but|ale|але|а)\b[^.!]*\?\s*$", re.IGNORECASE)
NEGATIVE = re.compile(
    r"(angry|furious|upset|terrible|awful|disappoint|complain|worst|broke|ruined|burn|rash|refund|"
    r"unacceptable|ridiculous|frustrat|annoy|worried|nervous|anxious|scared|afraid|hurts|\bpain\b|"
    r"charged twice|still got charged|by mistake|doesn'?t work|not working|freezing|rushed|fix this|"
    r"zły|zła|skandal|reklamac|okropn|zdenerwow|rozczarow|niezadowol|nie działa|boli|martwię|"
    r"zwrot|straci|niedopuszczaln|"
    r"жахлив|скарг|обурен|засмуч|зіпсува|розчаров|не працює|болить|хвилю|неприйнятн)",
    re.IGNORECASE,
)
#: a reply of at most this many words that neither greets nor closes is curt ("ok booked")
CURT_WORDS = 3
#: how much of the last reply's end is read for a closing (a "thank you for asking" opening
#: a long reply is not one)
CLOSING_TAIL = 160
#: a closing phrase within this many characters of the start of a longer reply opens it
OPENING_CHARS = 20
#: Polish words written without their diacritics ("sie" for "się"): each is a typo
POLISH_WITHOUT_DIACRITICS = re.compile(
    r"\b(sie|moze|moge|moga|mozna|prosze|dzien|czesc|juz|wiecej|bedzie|beda|sa|zl|piatek|sobote|"
    r"ktora|ktory|ktore|jesli|wlasnie|tez|takze|rowniez|wzgledu|dziekuje|dziekujemy|przepraszam|"
    r"mozemy|zabieg[oó]w|godzine|prosba|zdrowie|wizyte|platnosc|mozliwosc|zaplata|oplata)\b"
)
#: a reply of more than this many words should end with punctuation
UNPUNCTUATED_WORDS = 8
SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
MAX_WORDS_PER_SENTENCE = 25


class CategoryScore(BaseModel):
    """One category: a score from 0 to 1 (None: does not apply) and why, in one line."""

    category: str
    score: float | None = Field(ge=0, le=1)
    reason: str
    source: Source = Field(default="rules", description="who scored it: the rules or the LLM judge")


class QualityScore(BaseModel):
    """A speaker's replies in one conversation, scored by category."""

    speaker: Speaker
    replies: int
    overall: float | None = Field(description="mean of the categories that apply")
    categories: list[CategoryScore]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]


def _spelling(replies: Sequence[str]) -> CategoryScore:
    problems = []
    for text in replies:
        for sentence in _sentences(text):
            if sentence[0].isalpha() and sentence[0].islower():
                problems.append(f"sentence starts in lower case: {sentence[:30]!r}")
        if re.search(r"\b(\w+) \1\b", text, re.IGNORECASE):
            problems.append("a word repeated")
        if re.search(r"[!?]{2,}|\s[,.]|,,", text):
            problems.append("stray or repeated punctuation")
        if re.search(r"(^|\s)i(\s|')", text) and re.search(r"[a-z]", text):
            problems.append("lower-case 'i'")
        if re.search(r",(?=[^\s\d])", text):
            problems.append("no space after a comma")
        if len(text.split()) > UNPUNCTUATED_WORDS and not re.search(r"[.!?…):]\s*$|https?://\S+$", text):
            problems.append("the reply does not end with punctuation")
        missing = sorted({m.group(0).lower() for m in POLISH_WITHOUT_DIACRITICS.finditer(text)})
        problems.extend(f"missing diacritics: {word!r}" for word in missing)
    score = max(0.0, 1 - 0.25 * len(problems))
    return CategoryScore(
        category="spelling_grammar",
        score=score,
        reason=problems[0] if problems else "no mechanical errors found",
    )


def _readability(replies: Sequence[str]) -> CategoryScore:
    sentences = [s for text in replies for s in _sentences(text)]
    if not sentences:
        return CategoryScore(category="readability", score=None, reason="no sentences")
    words = [len(s.split()) for s in sentences]
    average = sum(words) / len(words)
    long = sum(1 for n in words if n > MAX_WORDS_PER_SENTENCE)
    score = max(0.0, 1 - long / len(words) - max(0.0, (average - 20) / 40))
    return CategoryScore(
        category="readability",
        score=round(score, 2),
        reason=f"{average:.0f} words per sentence on average, {long} over {MAX_WORDS_PER_SENTENCE}",
    )


def _closing(lines: Sequence[TranscriptEntry], speaker: Speaker, last: str) -> CategoryScore:
    sentences = _sentences(last)
    tail = " ".join(sentences[-2:])[-CLOSING_TAIL:]
    offset = len(last) - len(tail)  # tail is a suffix of the reply, up to spacing
    closing = next(
        (
            m
            for m in CLOSINGS.finditer(tail)
            # a thank-you that opens a longer reply is an opening, not a closing
            if not (offset + m.start() < OPENING_CHARS and len(last) > 3 * OPENING_CHARS)
        ),
        None,
    )
    if closing:
        return CategoryScore(category="closing", score=1.0, reason="the last reply closes politely")
    speaker_last = bool(lines) and lines[-1].sender == speaker
    if speaker_last and sentences and (sentences[-1].endswith("?") or AWAITS_ANSWER.search(tail)):
        return CategoryScore(
            category="closing", score=None, reason="the last reply waits for the client's answer"
        )
    return CategoryScore(category="closing", score=0.0, reason="no closing in the last reply")


def _uncorrected(lines: Sequence[TranscriptEntry], speaker: Speaker) -> bool:
    """The client's last 'that is not what I asked' got no apology after it."""
    said = [
        i for i, line in enumerate(lines) if line.sender == "client" and MISUNDERSTOOD.search(line.text or "")
    ]
    if not said:
        return False
    after = [line.text for line in lines[said[-1] + 1 :] if line.sender == speaker and line.text]
    return not any(EMPATHY.search(text) for text in after)


def _repeated(replies: Sequence[str]) -> bool:
    """The speaker sent the same reply twice (an answer that did not listen)."""
    seen = [" ".join(text.lower().split()) for text in replies]
    return len(set(seen)) < len(seen)


def _solution(lines: Sequence[TranscriptEntry], speaker: Speaker, replies: Sequence[str]) -> CategoryScore:
    concrete = any(SOLUTIONS.search(text) for text in replies)
    if not concrete and not any(ANSWERS.search(text) for text in replies):
        return CategoryScore(category="solution_offered", score=0.0, reason="no concrete answer or next step")
    if _uncorrected(lines, speaker) or _repeated(replies):
        return CategoryScore(
            category="solution_offered", score=0.0, reason="the client's correction was not taken up"
        )
    return CategoryScore(
        category="solution_offered",
        score=1.0,
        reason="offered a concrete next step (a time, price, link or action)"
        if concrete
        else "answered the question directly",
    )


def _tone(replies: Sequence[str], feelings_ignored: bool) -> CategoryScore:
    joined = " ".join(replies)
    if RUDE.search(joined):
        return CategoryScore(category="tone", score=0.0, reason="dismissive wording")
    if feelings_ignored:
        return CategoryScore(
            category="tone", score=0.0, reason="curt to an upset client (no acknowledgement)"
        )
    curt = [
        text
        for text in replies
        if len(text.split()) <= CURT_WORDS and not CLOSINGS.search(text) and not GREETINGS.search(text)
    ]
    if curt:
        return CategoryScore(category="tone", score=0.0, reason=f"a curt reply: {curt[0][:30]!r}")
    if re.search(r"\b[A-Z]{4,}\b|!!", joined):
        return CategoryScore(category="tone", score=0.5, reason="shouting (capitals or '!!')")
    return CategoryScore(category="tone", score=1.0, reason="courteous")


def _comprehension(
    lines: Sequence[TranscriptEntry], speaker: Speaker, replies: Sequence[str]
) -> CategoryScore:
    first_reply = next((i for i, line in enumerate(lines) if line.sender == speaker), len(lines))
    later = [line.text for line in lines[first_reply + 1 :] if line.sender == "client" and line.text]
    if any(MISUNDERSTOOD.search(text) for text in lines_text(lines, "client")):
        reason = "the client said they were misunderstood"
    elif any(ASKED_AGAIN.search(text) for text in later):
        reason = "the client had to ask again"
    elif _repeated(replies):
        reason = "the same reply sent twice"
    else:
        return CategoryScore(
            category="comprehension", score=1.0, reason="the client never said they were misunderstood"
        )
    return CategoryScore(category="comprehension", score=0.0, reason=reason)


def lines_text(lines: Sequence[TranscriptEntry], sender: str) -> list[str]:
    """The texts ``sender`` wrote, in order."""
    return [line.text for line in lines if line.sender == sender and line.text]


def score_conversation(lines: Sequence[TranscriptEntry], speaker: Speaker) -> QualityScore:
    """Score ``speaker``'s replies in ``lines`` (a conversation's transcript, in order)."""
    replies = lines_text(lines, speaker)
    client = lines_text(lines, "client")
    if not replies:
        empty = [CategoryScore(category=c, score=None, reason="no replies") for c in CATEGORIES]
        return QualityScore(speaker=speaker, replies=0, overall=None, categories=empty)
    joined = " ".join(replies)
    feeling = any(NEGATIVE.search(text) for text in client)
    upset = feeling or any(MISUNDERSTOOD.search(text) for text in client)
    acknowledged = bool(EMPATHY.search(joined))
    categories = [
        CategoryScore(
            category="greeting",
            score=1.0 if GREETINGS.search(replies[0]) else 0.0,
            reason="the first reply greets the client"
            if GREETINGS.search(replies[0])
            else "the first reply has no greeting",
        ),
        CategoryScore(
            category="empathy",
            score=(1.0 if acknowledged else 0.0) if upset else None,
            reason=(
                "acknowledged the client's frustration"
                if acknowledged
                else "the client was upset and nothing acknowledged it"
            )
            if upset
            else "the client was not upset",
        ),
        _spelling(replies),
        _closing(lines, speaker, replies[-1]),
        _solution(lines, speaker, replies),
        _tone(replies, feeling and not acknowledged),
        _readability(replies),
        _comprehension(lines, speaker, replies),
    ]
    return QualityScore(
        speaker=speaker, replies=len(replies), overall=overall_of(categories), categories=categories
    )


def overall_of(categories: Sequence[CategoryScore]) -> float | None:
    """The mean of the categories that apply (None when none does)."""
    applied = [c.score for c in categories if c.score is not None]
    return round(sum(applied) / len(applied), 3) if applied else None
