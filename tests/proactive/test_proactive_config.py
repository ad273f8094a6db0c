"""proactive.yml and the reminder event at their boundaries: bad input gets a clear error before
anything is stored; quiet hours that wrap midnight end at the right local time."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from actions.base import event_from_wire
from bot.errors import BadPayload
from proactive.config import QuietHours, load_config

WARSAW = ZoneInfo("Europe/Warsaw")


def test_no_file_means_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.reminder_offsets_hours == [24.0, 2.0]
    assert (config.birthday.tiers, config.birthday.approval_tiers) == (["VIP", "Premium"], ["VIP"])
    assert config.kind("appointment_reminder").template == "appointment_reminder"
    assert not config.kind("milestone").enabled  # nothing configured for it


def test_a_bad_file_names_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "proactive.yml").write_text(
        "timezone: Mars/Olympus\nmax_per_client: 0\nbirthday: {tiers: [VIP], send_at: 'noon'}\ntypo: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as caught:
        load_config(tmp_path)
    where = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert where == {"timezone", "max_per_client", "birthday.send_at", "typo"}
    assert "unknown time zone 'Mars/Olympus'" in str(caught.value)


def test_a_file_overrides_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "proactive.yml").write_text(
        "reminder_offsets_hours: [48]\nquiet_hours: {start: '22:30', end: '08:00'}\n"
        "kinds: {birthday: {messages: {en: 'Happy birthday!'}}}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    assert config.reminder_offsets_hours == [48.0] and config.quiet_hours.start == time(22, 30)
    assert config.kind("birthday").messages == {"en": "Happy birthday!"}
    assert config.kind("birthday").template is None  # so outside the window it is skipped
    assert not config.kind("appointment_reminder").enabled  # kinds replaces the default set


def test_quiet_hours_that_wrap_midnight() -> None:
    quiet = QuietHours(start=time(21, 0), end=time(9, 0))
    evening = datetime(2027, 1, 5, 22, 15, tzinfo=WARSAW)
    assert quiet.next_allowed(evening) == datetime(2027, 1, 6, 9, 0, tzinfo=WARSAW)
    early = datetime(2027, 1, 6, 6, 0, tzinfo=WARSAW)
    assert quiet.next_allowed(early) == datetime(2027, 1, 6, 9, 0, tzinfo=WARSAW)
    noon = datetime(2027, 1, 6, 12, 0, tzinfo=WARSAW)
    assert quiet.next_allowed(noon) == noon
    assert QuietHours(start=time(0, 0), end=time(0, 0)).next_allowed(early) == early  # none


def test_a_reminder_with_an_unreadable_time_is_refused_at_the_action_boundary() -> None:
    with pytest.raises(BadPayload, match="ISO 8601"):
        event_from_wire({"event": "reminder", "intent": "x", "date_time": "tomorrow-ish"}, "action_x")
