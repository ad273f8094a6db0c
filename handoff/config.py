"""Handoff configuration: tiers, SLAs, priority weights, escalation rules, business hours.

One pydantic model, loaded from YAML (``load_handoff_config``) so operators change rules
without code. Every field has a default that matches Mariia Hub's policy, so an empty
file (or none) is a working configuration.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot.errors import FormatError
from bot.sentiment.trajectory import TrajectoryConfig
from handoff.messages import HandoffMessages

Tier = Literal["VIP", "Premium", "Standard"]
TIERS: tuple[Tier, ...] = ("VIP", "Premium", "Standard")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLA: dict[Tier, int] = {"VIP": 60, "Premium": 120, "Standard": 300}
DEFAULT_TIER_WEIGHTS: dict[Tier, float] = {"VIP": 3.0, "Premium": 1.5, "Standard": 0.0}
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


# ---- tiers -------------------------------------------------------------------------
class TierRule(BaseModel):
    """A client reaches ``tier`` when ANY of the set conditions holds (unset ones are ignored)."""

    tier: Tier
    min_spend_12m: float | None = Field(default=None, ge=0, description="spend over the last 12 months, PLN")
    min_visits_12m: int | None = Field(default=None, ge=0)
    memberships: list[str] = Field(default_factory=list, description="membership levels that grant the tier")


def _default_tier_rules() -> list[TierRule]:
    return [
        TierRule(tier="VIP", min_spend_12m=15000, min_visits_12m=40, memberships=["black"]),
        TierRule(tier="Premium", min_spend_12m=5000, min_visits_12m=15, memberships=["gold"]),
    ]


class TierConfig(BaseModel):
    """Rules tried best tier first; a manual override on the client always wins."""

    rules: list[TierRule] = Field(default_factory=_default_tier_rules)
    default: Tier = "Standard"


# ---- SLA and queue priority --------------------------------------------------------
class SLAConfig(BaseModel):
    """Seconds from queueing to the first human reply, per tier."""

    first_response_seconds: dict[Tier, int] = Field(default_factory=lambda: dict(DEFAULT_SLA))

    @field_validator("first_response_seconds")
    @classmethod
    def _every_tier(cls, value: dict[Tier, int]) -> dict[Tier, int]:
        missing = [t for t in TIERS if t not in value]
        if missing:
            raise ValueError(f"first-response SLA missing for {', '.join(missing)}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("first-response SLAs must be positive")
        return value


class PriorityConfig(BaseModel):
    """Weights of the queue priority: tier + urgency (share of the SLA used up) + negative
    sentiment + a per-reason boost. See :mod:`handoff.queue`."""

    tier: dict[Tier, float] = Field(default_factory=lambda: dict(DEFAULT_TIER_WEIGHTS))
    urgency: float = 4.0
    max_urgency: float = Field(default=2.0, description="cap on urgency once the SLA is blown")
    sentiment: float = 1.5
    # safety outranks a VIP at their deadline (3 + 4 = 7); only a VIP long overdue can still beat it
    reasons: dict[str, float] = Field(
        default_factory=lambda: {"rule:safety": 10.0, "rule:vip_complaint": 1.0}
    )


# ---- escalation triggers -------------------------------------------------------------
class TriggerRule(BaseModel):
    """A configured escalation rule: fires when the client's tier is in ``tiers`` (empty =
    any tier) AND any of its conditions match the latest client message: an intent in
    ``intents``, a keyword pattern in ``keywords`` (per language; regexes matched at word
    starts, case- and diacritics-insensitive), or a sentiment score at or under
    ``max_sentiment``."""

    name: str
    description: str
    tiers: list[Tier] = Field(default_factory=list)
    intents: list[str] = Field(default_factory=list)
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    max_sentiment: float | None = None
    immediate: bool = Field(default=True, description="straight to a human, skipping further bot turns")

    @model_validator(mode="after")
    def _has_condition(self) -> TriggerRule:
        if not (self.intents or any(self.keywords.values()) or self.max_sentiment is not None):
            raise ValueError(f"rule {self.name!r} has no intent, keyword or sentiment condition")
        for patterns in self.keywords.values():
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"rule {self.name!r}: bad pattern {pattern!r}: {exc}") from None
        return self


def _default_rules() -> list[TriggerRule]:
    return [
        TriggerRule(
            name="safety",
            description="an allergic reaction or injury",
            keywords={
                "en": [
                    r"allergic reaction",
                    r"reaction to",
                    r"rash",
                    r"hives",
                    r"swell",
                    r"swollen",
                    r"blister",
                    r"burn(s|ing|t|ed)?\b",
                    r"bleed",
                    r"injur",
                    r"infect",
                    r"can'?t breathe",
                    r"anaphyla",
                ],
                "pl": [
                    r"reakcj\w* alergiczn",
                    r"uczulil",
                    r"wysypk",
                    r"pokrzywk",
                    r"opuchl",
                    r"opuchni",
                    r"obrzek",
                    r"pecherz",
                    r"poparzen",
                    r"oparzen",
                    r"piecze",
                    r"krwaw",
                    r"kontuzj",
                    r"uraz",
                    r"zakazeni",
                    r"stan\w* zapaln",
                    r"nie moge oddychac",
                ],
                "uk": [
                    r"алергічн\w* реакці",
                    r"висип",
                    r"кропив'?янк",
                    r"набряк",
                    r"набрякл",
                    r"пухир",
                    r"опік",
                    r"пече",
                    r"кровотеч",
                    r"кровить",
                    r"травм",
                    r"запален",
                    r"інфекці",
                    r"не можу дихати",
                ],
            },
        ),
        TriggerRule(
            name="refund",
            description="a refund or a disputed charge",
            intents=["request_refund", "refund"],
            keywords={
                "en": [
                    r"(want|need|demand|expect|request)\w* (a |my |the )?refund",
                    r"refund (me|my)",
                    r"money back",
                    r"chargeback",
                    r"charged (me )?twice",
                    r"double charg",
                ],
                "pl": [
                    r"(chce|prosze o|zadam|domagam sie) zwrot",
                    r"zwroccie",
                    r"oddajcie (mi )?pieniadze",
                    r"dwa razy (pobral|obciazyl|zaplacil)",
                    r"pobral\w* (ode mnie )?(oplate )?dwa razy",
                ],
                "uk": [
                    r"(хочу|вимагаю|прошу) поверненн",
                    r"поверніть (мені )?(гроші|кошти)",
                    r"(зняли|списали) (з мене )?(гроші )?двічі",
                    r"двічі (зняли|списали)",
                ],
            },
        ),
        TriggerRule(
            name="vip_complaint",
            description="a VIP client complaining",
            tiers=["VIP"],
            intents=["complaint", "complain"],
            max_sentiment=-0.4,
        ),
    ]


class TriggerConfig(BaseModel):
    """When the bot hands a conversation to a human (see :mod:`handoff.triggers`)."""

    request_intents: list[str] = Field(
        default_factory=lambda: ["request_human", "human_handoff", "talk_to_human", "connect_concierge"]
    )
    request_keywords: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "en": [
                r"(speak|talk|chat) (to|with) (a |an |the |my )?"
                r"(human|person|agent|manager|someone|concierge)",
                r"real person",
                r"connect me (to|with)",
                r"human please",
            ],
            "pl": [
                r"z (czlowiekiem|konsultant\w*|kierownik\w*|menedzer\w*|osob\w*|konsjerz\w*|concierge)",
                r"zywy czlowiek",
                r"polacz\w* mnie",
            ],
            "uk": [
                r"з (людиною|оператором|менеджером|консьєржем|консьержем|адміністратором)",
                r"жива людина",
                r"з'єднайте мене",
            ],
        }
    )
    fallback_intents: list[str] = Field(default_factory=lambda: ["nlu_fallback"])
    fallback_actions: list[str] = Field(
        default_factory=lambda: [
            "action_default_fallback",
            "action_two_stage_fallback",
            "utter_default",
            "utter_kb_no_answer",
        ],
        description="actions, or responses uttered by any action, that mean the bot did not understand",
    )
    fallback_count: int = Field(default=2, ge=1, description="this many fallback turns ...")
    fallback_window: int = Field(default=4, ge=1, description="... within this many latest client turns")
    sentiment: TrajectoryConfig = Field(default_factory=TrajectoryConfig)
    rules: list[TriggerRule] = Field(default_factory=_default_rules)


# ---- business hours ---------------------------------------------------------------------
class Location(BaseModel):
    """A studio with opening hours in its own time zone; ``hours`` maps mon..sun to spans
    like ``"09:00-21:00"`` (a missing day is closed); ``closed_dates`` are holidays."""

    name: str
    timezone: str = "Europe/Warsaw"
    hours: dict[str, list[str]] = Field(default_factory=dict)
    closed_dates: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
            for span in spans:
                match = _SPAN.match(span)
                if not match or match.group(1, 2) >= match.group(3, 4):
                    raise ValueError(f"{day}: bad span {span!r} (want HH:MM-HH:MM, start before end)")
        return value


def _default_locations() -> dict[str, Location]:
    weekdays = {d: ["09:00-21:00"] for d in WEEKDAYS[:5]}
    return {
        "mokotow": Location(name="Mariia Hub Mokotów", hours={**weekdays, "sat": ["09:00-18:00"]}),
        "wilanow": Location(name="Mariia Hub Wilanów", hours={**weekdays, "sat": ["10:00-16:00"]}),
        "praga": Location(name="Mariia Hub Praga", hours={d: ["08:00-20:00"] for d in WEEKDAYS[:6]}),
    }


def _default_out_of_hours() -> dict[str, str]:
    return {
        "en": "Our team is offline right now. A person will reply {when}. "
        "Meanwhile, tell me what happened and the best way to reach you, and I'll pass it on.",
        "pl": "Nasz zespół jest teraz niedostępny. Osoba z zespołu odpowie {when}. "
        "W międzyczasie napisz, co się stało i jak najlepiej się z Tobą skontaktować, a przekażę to dalej.",
        "uk": "Наша команда зараз не на зв'язку. Людина з команди відповість {when}. "
        "Тим часом напишіть, що сталося і як з вами краще зв'язатися, і я все передам.",
    }


class AssignmentConfig(BaseModel):
    """Auto-assignment from the queue (:mod:`handoff.assignment`)."""

    auto_assign: bool = Field(
        default=False, description="queued conversations go to the best agent by themselves (opt-in)"
    )
    sticky_concierge_seconds: int = Field(
        default=300,
        ge=0,
        description="how long a conversation waits for its named concierge when they are away",
    )
    fallback: Literal["best_agent", "queue"] = Field(
        default="best_agent", description="after the wait: the best other agent, or stay in the queue"
    )


class HandoffConfig(BaseModel):
    """Everything the handoff package reads; build with :func:`load_handoff_config`."""

    tiers: TierConfig = Field(default_factory=TierConfig)
    sla: SLAConfig = Field(default_factory=SLAConfig)
    priority: PriorityConfig = Field(default_factory=PriorityConfig)
    triggers: TriggerConfig = Field(default_factory=TriggerConfig)
    locations: dict[str, Location] = Field(default_factory=_default_locations)
    default_location: str = "mokotow"
    out_of_hours_message: dict[str, str] = Field(default_factory=_default_out_of_hours)
    default_language: str = "en"
    messages: HandoffMessages = Field(default_factory=HandoffMessages)
    assignment: AssignmentConfig = Field(default_factory=AssignmentConfig)
    concierge_intents: list[str] = Field(
        default_factory=lambda: ["connect_concierge"],
        description="intents asking for the client's own concierge",
    )
    concierge_tiers: list[Tier] = Field(
        default_factory=lambda: list[Tier](["VIP"]),
        description="tiers whose named concierge takes their conversations directly when online, and "
        "whose request for their concierge skips the bot",
    )
    locations_file: str | None = Field(
        default=None,
        description="the studios and their opening hours as the bot describes them (a CSV with "
        "key, name_en, mon_fri, sat, sun columns, relative to the project); when set it replaces "
        "``locations``, so routing and business hours use the studios the bot names",
    )
    agents_file: str = Field(default="data/agents.yml", description="agent profiles, relative to the project")
    clients_file: str = Field(
        default="data/clients.csv", description="clients imported when the client table is empty"
    )

    @model_validator(mode="after")
    def _location_known(self) -> HandoffConfig:
        if self.default_location not in self.locations:
            raise ValueError(f"default_location {self.default_location!r} is not in locations")
        if self.default_language not in self.out_of_hours_message:
            raise ValueError(f"no out-of-hours message for the default language {self.default_language!r}")
        return self

    def sla_seconds(self, tier: Tier) -> int:
        """The first-response SLA of a tier, in seconds."""
        return self.sla.first_response_seconds[tier]


def load_handoff_config(path: Path | None) -> HandoffConfig:
    """The configuration in a YAML file (defaults for whatever it leaves out; no file = defaults)."""
    if path is None:
        return HandoffConfig()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(str(path), f"invalid YAML: {exc}", line=mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise FormatError(str(path), "the handoff config must be a mapping")
    if raw.get("locations_file"):
        if "locations" in raw:
            raise FormatError(str(path), "give either locations or locations_file, not both")
        raw = {**raw, "locations": read_locations_csv(path.parent / str(raw["locations_file"]))}
    try:
        return HandoffConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise FormatError(str(path), problems) from None


_CSV_DAYS = {"mon_fri": WEEKDAYS[:5], "sat": ("sat",), "sun": ("sun",)}


def read_locations_csv(path: Path) -> dict[str, dict[str, object]]:
    """The studios of a catalogue CSV (``key,name_en,...,mon_fri,sat,sun``, hours like
    ``08:00-21:00`` or ``closed``) as raw :class:`Location` fields, keyed by studio key.

    This is the file the bot's own answers about studios come from, so the business hours
    the handoff uses cannot drift from what clients are told."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise FormatError(str(path), f"cannot read the locations file: {exc.strerror}") from None
    missing = {"key", "name_en", *_CSV_DAYS} - set(rows[0] if rows else {})
    if missing:
        raise FormatError(str(path), f"missing columns: {', '.join(sorted(missing))}")
    locations: dict[str, dict[str, object]] = {}
    for number, row in enumerate(rows, start=2):
        key = (row["key"] or "").strip()
        if not key or key in locations:
            raise FormatError(str(path), f"empty or repeated key {key!r}", line=number)
        hours: dict[str, list[str]] = {}
        for column, days in _CSV_DAYS.items():
            value = (row[column] or "").strip()
            if value and value.lower() != "closed":
                hours.update({day: [value] for day in days})
        locations[key] = {"name": row["name_en"].strip(), "hours": hours}
    return locations
