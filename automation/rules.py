"""Automation rules as data: a pydantic model of ``automation.yml`` (and of every version a
manager saves in the console), validated before anything runs.

A rule is ``on`` one trigger, ``if`` all of its conditions hold, ``then`` its actions in
order::

    rules:
      - id: vip_complaint_concierge
        name: VIP complaint goes to the concierge and the manager hears of it
        on: message_received
        if: {tier: [VIP], intent: [complaint]}
        then:
          - assign: {agent: concierge}
          - notify_email: {to: manager, subject: "VIP complaint"}

Unknown keys are refused (a typo must not silently disable a condition).
"""

from __future__ import annotations

import string
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import FormatError

MAX_RULES = 200
MAX_SOURCE = 200_000  # characters of YAML a console save may carry
_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Address = Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}$")]


class Trigger(StrEnum):
    """What a rule runs on: one event kind of the log (or a time-based watch)."""

    MESSAGE_RECEIVED = "message_received"  # a client's message (``user``)
    CONVERSATION_CREATED = "conversation_created"  # the conversation's first event
    HANDED_OFF = "handed_off"  # bot -> queued
    ASSIGNED = "assigned"  # -> assigned
    RESOLVED = "resolved"  # -> resolved
    RETURNED_TO_BOT = "returned_to_bot"  # -> bot
    CSAT_RECEIVED = "csat_received"  # csat_recorded
    NOTE_ADDED = "note_added"  # an agent's private note
    SLA_BREACHED = "sla_breached"  # queued, no person replied within the tier's SLA
    SLA_ABOUT_TO_BREACH = "sla_about_to_breach"  # queued, unanswered, ``within_seconds`` of the SLA
    BOOKING_CREATED = "booking_created"  # a booking's ``reminder`` (named ``booking:<reference>``)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """Every set condition must hold (unset ones are ignored); lists mean "any of"."""

    tier: list[str] = Field(default_factory=list)
    intent: list[str] = Field(default_factory=list, description="the latest client message's intent")
    channel: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    agent: list[str] = Field(default_factory=list, description="the agent holding the conversation")
    client_tags: list[str] = Field(
        default_factory=list,
        description="any of: membership, home studio, 'preference:<key>', 'has_concierge'",
    )
    max_sentiment: float | None = Field(default=None, ge=-1, le=1, description="latest score at or under")
    min_sentiment: float | None = Field(default=None, ge=-1, le=1, description="latest score at or over")
    sentiment_falling: bool | None = Field(default=None, description="last score below the first")
    business_hours: bool | None = Field(default=None, description="the client's studio open (true) or closed")
    min_csat: int | None = Field(default=None, ge=1, le=5)
    max_csat: int | None = Field(default=None, ge=1, le=5)


class AssignSpec(_Strict):
    """``agent`` (an id, or ``concierge``: the client's named concierge) or ``team``."""

    agent: str | None = None
    team: str | None = None

    @model_validator(mode="after")
    def _one(self) -> AssignSpec:
        if (self.agent is None) == (self.team is None):
            raise ValueError("assign needs exactly one of agent or team")
        return self


class NotifySpec(_Strict):
    """An e-mail: ``to`` is a manager's key in ``managers`` or an address."""

    to: str = Field(min_length=1, max_length=254)
    subject: str = Field(default="Concierge: rule {rule} fired", max_length=200)


class WebhookSpec(_Strict):
    """A signed POST: ``secret_env`` names the environment variable holding the HMAC key."""

    url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)]
    secret_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]


class NoteSpec(_Strict):
    """A private note for agents (never sent to the client)."""

    text: str = Field(min_length=1, max_length=2000)


#: what a reply's text (and its template's parameters) may name: the client's first name
#: (empty when the client is not known), their tier, the rule's name, and the latest
#: booking's reference, service, studio and local time (empty before any booking)
BOOKING_PLACEHOLDERS = frozenset({"reference", "service_name", "studio", "when"})
REPLY_PLACEHOLDERS = frozenset({"first_name", "tier", "rule"}) | BOOKING_PLACEHOLDERS
MAX_REPLY = 1000


class ReplySpec(_Strict):
    """A message to the client through the client's own channel (stored in the log, sent
    through the outbox). ``template``: the WhatsApp template purpose (``credentials.yml``
    ``templates``) that goes instead outside the 24-hour window; without one the reply is
    not sent there."""

    text: str = Field(min_length=1, max_length=MAX_REPLY)
    template: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")] | None = None

    @model_validator(mode="after")
    def _known_placeholders(self) -> ReplySpec:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(self.text) if f is not None}
        except ValueError as exc:
            raise ValueError(f"reply text: {exc} (write {{{{ and }}}} for braces)") from None
        unknown = sorted(names - REPLY_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"reply text: unknown placeholder(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(REPLY_PLACEHOLDERS))}"
            )
        return self


class HandoffSpec(_Strict):
    """Hand the conversation to the queue with this reason (``rule:<id>`` when unset)."""

    reason: str | None = Field(default=None, max_length=80)


class Action(_Strict):
    """Exactly one of the action keys."""

    assign: AssignSpec | None = None
    set_priority: Literal["low", "normal", "high", "urgent"] | None = None
    tag: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")] | None = None
    note: NoteSpec | None = None
    reply: ReplySpec | None = None
    notify_email: NotifySpec | None = None
    webhook: WebhookSpec | None = None
    handoff: HandoffSpec | None = None
    return_to_bot: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        set_keys = [k for k, v in self if v is not None]
        if len(set_keys) != 1:
            raise ValueError(f"an action has exactly one of {', '.join(type(self).model_fields)}")
        return self

    @property
    def kind(self) -> str:
        """The action's key (``assign``, ``tag``, ...)."""
        return next(k for k, v in self if v is not None)


class Rule(_Strict):
    """One rule: ``on`` a trigger, ``if`` conditions, ``then`` actions."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Annotated[str, Field(pattern=_ID)]
    name: str = Field(min_length=1, max_length=120)
    enabled: bool = True
    on: Trigger
    when: Conditions = Field(default_factory=Conditions, alias="if")
    then: list[Action] = Field(min_length=1, max_length=20)
    #: ``sla_about_to_breach`` only (and required there): how long before the first-response
    #: deadline the rule fires
    within_seconds: float | None = Field(default=None, gt=0, le=86_400)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: object) -> object:
        """YAML 1.1 reads a bare ``on:`` key as the boolean true; it means the trigger here."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _lead(self) -> Rule:
        about = self.on == Trigger.SLA_ABOUT_TO_BREACH
        if about and self.within_seconds is None:
            raise ValueError("on: sla_about_to_breach needs within_seconds (the lead before the deadline)")
        if not about and self.within_seconds is not None:
            raise ValueError("within_seconds applies to on: sla_about_to_breach only")
        return self


class EmailSettings(_Strict):
    """Where notification e-mails come from; the SMTP relay is the e-mail channel's unless set."""

    sender: Address = "concierge@mariia-hub.test"
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    starttls: bool | None = None


class RuleSet(_Strict):
    """The whole file: managers to notify, teams to assign to, and the rules."""

    managers: dict[str, Address] = Field(default_factory=dict)
    teams: dict[str, list[str]] = Field(default_factory=dict)
    email: EmailSettings = Field(default_factory=EmailSettings)
    #: inbox events older than this when a runner first sees them are skipped, not fired
    #: (a projections rebuild re-enqueues the whole log; old events must not fire again)
    stale_after_seconds: float = Field(default=86_400, gt=0)
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule id(s): {', '.join(dupes)}")
        for rule in self.rules:
            for action in rule.then:
                if action.assign and action.assign.team and action.assign.team not in self.teams:
                    raise ValueError(f"rule {rule.id!r}: unknown team {action.assign.team!r}")
                if action.notify_email and "@" not in action.notify_email.to:
                    if action.notify_email.to not in self.managers:
                        raise ValueError(f"rule {rule.id!r}: unknown manager {action.notify_email.to!r}")
        return self

    def for_trigger(self, trigger: Trigger | str) -> list[Rule]:
        """The enabled rules that run on ``trigger``, in file order."""
        return [r for r in self.rules if r.enabled and r.on == trigger]

    @property
    def triggers(self) -> frozenset[str]:
        """The triggers some enabled rule runs on."""
        return frozenset(str(r.on) for r in self.rules if r.enabled)


class RulesInvalid(FormatError):
    """A rule set that does not validate; ``problems`` lists each one (for the console's 422)."""

    def __init__(self, where: str, problems: list[str], line: int | None = None) -> None:
        self.problems = problems
        super().__init__(where, "; ".join(problems), line=line)


def parse_rules(source: str, where: str = "automation.yml") -> RuleSet:
    """Validate YAML text as a :class:`RuleSet`; raises :class:`RulesInvalid`."""
    if len(source) > MAX_SOURCE:
        raise RulesInvalid(where, [f"longer than {MAX_SOURCE} characters"])
    try:
        raw = yaml.safe_load(source) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesInvalid(where, [f"invalid YAML: {exc}"], line=mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise RulesInvalid(where, ["the rules file must be a mapping"])
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise RulesInvalid(where, problems) from None


def load_rules_file(path: Path) -> RuleSet:
    """The rules in ``path`` (an empty rule set when the file does not exist)."""
    if not path.is_file():
        return RuleSet()
    return parse_rules(path.read_text(encoding="utf-8"), str(path))
