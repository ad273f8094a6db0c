"""``proactive.yml``: what the concierge sends first, when, and under which limits (pydantic).

A missing file means the defaults below (reminders 24 h and 2 h before, birthday greetings
for VIP and Premium with an agent's approval for VIP, quiet hours 21:00-09:00 in the studio's
time zone, at most 3 proactive messages per client per day). ``docs/automation.md``
documents every field.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.loaders.yaml_io import parse_yaml_text

FILE_NAME = "proactive.yml"

Kind = Literal["appointment_reminder", "birthday", "follow_up", "milestone", "re_engagement"]


class KindConfig(BaseModel):
    """One kind of proactive message: its words per language and its WhatsApp template."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    messages: dict[str, str] = Field(
        default_factory=dict,
        description="language -> text with {placeholders} from the message's params (en is the fallback)",
    )
    template: str | None = Field(
        default=None,
        description="the template purpose (credentials.yml templates of the WhatsApp channels) "
        "sent outside the 24-hour window; without one the message is skipped there",
    )


class QuietHours(BaseModel):
    """No proactive message between ``start`` and ``end`` (local time; may wrap midnight)."""

    model_config = ConfigDict(extra="forbid")
    start: time = time(21, 0)
    end: time = time(9, 0)

    def contains(self, moment: time) -> bool:
        """Whether ``moment`` (local wall time) is inside the quiet hours."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def next_allowed(self, local: datetime) -> datetime:
        """``local`` if it is allowed, else the end of the quiet hours that contain it."""
        if not self.contains(local.timetz().replace(tzinfo=None)):
            return local
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)


class BirthdayConfig(BaseModel):
    """Birthday greetings: for which tiers, sent at what local hour, and which need approval."""

    model_config = ConfigDict(extra="forbid")
    tiers: list[str] = Field(default_factory=lambda: ["VIP", "Premium"])
    approval_tiers: list[str] = Field(
        default_factory=lambda: ["VIP"], description="tiers whose greeting waits for an agent's approval"
    )
    send_at: time = time(10, 0)


def _default_kinds() -> dict[str, KindConfig]:
    return {
        "appointment_reminder": KindConfig(
            messages={
                "en": "Reminder: {service_name} at {studio} on {when}. Reference {reference}. "
                "Reply STOP to stop reminders.",
                "pl": "Przypomnienie: {service_name}, {studio}, {when}. Numer {reference}. "
                "Odpisz STOP, aby nie otrzymywać przypomnień.",
                "uk": "Нагадування: {service_name}, {studio}, {when}. Номер {reference}. "
                "Напишіть СТОП, щоб не отримувати нагадувань.",
                "ru": "Напоминание: {service_name}, {studio}, {when}. Номер {reference}. "
                "Напишите СТОП, чтобы не получать напоминаний.",
            },
            template="appointment_reminder",
        ),
        "follow_up": KindConfig(
            messages={
                "en": "Thank you for visiting Mariia Hub! How was your {service_name}? Just reply here.",
                "pl": "Dziękujemy za wizytę w Mariia Hub! Jak było ({service_name})? Wystarczy odpisać.",
                "uk": "Дякуємо за візит до Mariia Hub! Як вам {service_name}? Просто дайте відповідь тут.",
                "ru": "Спасибо за визит в Mariia Hub! Как вам {service_name}? Просто ответьте здесь.",
            },
            template="follow_up",
        ),
        "birthday": KindConfig(
            messages={
                "en": "Happy birthday from all of us at Mariia Hub! "
                "A little gift waits for you at your next visit.",
                "pl": "Wszystkiego najlepszego z okazji urodzin od całego Mariia Hub! "
                "Przy następnej wizycie czeka na Ciebie prezent.",
                "uk": "З днем народження від усієї команди Mariia Hub! На вас чекає маленький подарунок.",
                "ru": "С днём рождения от всей команды Mariia Hub! Вас ждёт маленький подарок.",
            },
            template="birthday",
        ),
    }


class ProactiveConfig(BaseModel):
    """The whole ``proactive.yml``."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = "Europe/Warsaw"
    reminder_offsets_hours: list[float] = Field(default_factory=lambda: [24.0, 2.0])
    follow_up_after_hours: float | None = Field(
        default=None,
        gt=0,
        description="a booking also schedules a follow-up asking for feedback this long after the "
        "visit ends (None: no follow-ups)",
    )
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    max_per_client: int = Field(default=3, ge=1, description="proactive messages per client per cap window")
    cap_window_hours: float = Field(default=24.0, gt=0)
    birthday: BirthdayConfig = Field(default_factory=BirthdayConfig)
    kinds: dict[Kind, KindConfig] = Field(default_factory=_default_kinds)
    stop_words: list[str] = Field(
        default_factory=lambda: [
            "stop",
            "stop reminders",
            "unsubscribe",
            "stop przypomnienia",
            "nie wysyłaj",
            "стоп",
            "стоп нагадування",
            "стоп напоминания",
            "отписаться",
            "відписатися",
        ],
        description="a client's whole message (case and punctuation aside) that opts them out",
    )
    lease_seconds: float = Field(default=60.0, ge=5)
    poll_seconds: float = Field(default=30.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The studio's time zone."""
        return ZoneInfo(self.timezone)

    def kind(self, name: str) -> KindConfig:
        """The configuration of kind ``name`` (a disabled default when not configured)."""
        return self.kinds.get(name, KindConfig(enabled=False))  # type: ignore[call-overload]


def load_config(project_dir: Path) -> ProactiveConfig:
    """``proactive.yml`` in ``project_dir``, validated; the defaults when there is none."""
    path = project_dir / FILE_NAME
    if not path.is_file():
        return ProactiveConfig()
    data = parse_yaml_text(path.read_text(encoding="utf-8"), FILE_NAME) or {}
    return ProactiveConfig.model_validate(data)
