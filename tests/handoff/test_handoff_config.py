"""The handoff config: defaults, YAML overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from handoff.agents import load_agents
from handoff.config import HandoffConfig, load_handoff_config


def test_no_file_means_the_documented_defaults() -> None:
    config = load_handoff_config(None)
    assert config == HandoffConfig()
    assert config.sla.first_response_seconds == {"VIP": 60, "Premium": 120, "Standard": 300}
    assert [r.name for r in config.triggers.rules] == ["safety", "refund", "vip_complaint"]
    assert set(config.locations) == {"mokotow", "wilanow", "praga"}
    assert set(config.out_of_hours_message) == {"en", "pl", "uk"}


def test_yaml_overrides_what_it_names_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text(
        """
sla:
  first_response_seconds: {VIP: 30, Premium: 90, Standard: 600}
tiers:
  rules:
    - {tier: VIP, min_spend_12m: 20000}
triggers:
  fallback_count: 3
  rules:
    - name: pregnancy
      description: a pregnant client asking about treatments
      keywords: {en: ["pregnan"], pl: ["w ciąży"], uk: ["вагітн"]}
locations:
  centrum:
    name: Mariia Hub Centrum
    timezone: Europe/Warsaw
    hours: {mon: ["10:00-14:00", "15:00-20:00"]}
default_location: centrum
""",
        encoding="utf-8",
    )
    config = load_handoff_config(path)
    assert config.sla_seconds("VIP") == 30
    assert config.tiers.rules[0].min_spend_12m == 20000 and len(config.tiers.rules) == 1
    assert config.triggers.fallback_count == 3 and config.triggers.fallback_window == 4
    assert [r.name for r in config.triggers.rules] == ["pregnancy"]
    assert config.locations["centrum"].hours["mon"] == ["10:00-14:00", "15:00-20:00"]
    assert config.priority.tier["VIP"] == 3.0  # untouched default


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("sla:\n  first_response_seconds: {VIP: 60}\n", "missing for Premium, Standard"),
        ("locations:\n  x: {name: X, timezone: Mars/Olympus}\ndefault_location: x\n", "unknown time zone"),
        ("locations:\n  x: {name: X, hours: {mon: ['21:00-09:00']}}\ndefault_location: x\n", "bad span"),
        (
            "locations:\n  x: {name: X, hours: {monday: ['09:00-10:00']}}\ndefault_location: x\n",
            "unknown weekday",
        ),
        ("default_location: atlantis\n", "not in locations"),
        (
            "triggers:\n  rules:\n    - {name: empty, description: nothing}\n",
            "no intent, keyword or sentiment",
        ),
        (
            "triggers:\n  rules:\n    - {name: bad, description: x, keywords: {en: ['(unclosed']}}\n",
            "bad pattern",
        ),
        ("sla: [1, 2\n", "invalid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_mistakes_are_reported_with_the_file(tmp_path: Path, yaml_text: str, problem: str) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(FormatError, match=problem) as caught:
        load_handoff_config(path)
    assert str(path) in str(caught.value)


def test_agents_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "agents.yml"
    path.write_text("agents:\n  - {id: a, name: A}\n  - {id: a, name: B}\n", encoding="utf-8")
    with pytest.raises(FormatError, match="duplicate agent id"):
        load_agents(path)
    path.write_text("agents:\n  - {id: a, name: A, max_chats: 0}\n", encoding="utf-8")
    with pytest.raises(FormatError, match="max_chats"):
        load_agents(path)


def test_the_demo_projects_handoff_file_says_only_what_differs(repo_dir: Path) -> None:
    config = load_handoff_config(repo_dir / "handoff.yml")
    defaults = HandoffConfig()
    assert config.triggers.fallback_intents == [] and defaults.triggers.fallback_intents == ["nlu_fallback"]
    assert config.triggers.sentiment.min_turns == 3
    assert "utter_kb_no_answer" in config.triggers.fallback_actions
    assert config.concierge_tiers == ["VIP"] and config.concierge_intents == ["connect_concierge"]
    assert config.sla == defaults.sla and config.triggers.rules == defaults.triggers.rules
    assert (repo_dir / config.agents_file).is_file() and (repo_dir / config.clients_file).is_file()


def test_the_demo_has_one_set_of_studios(repo_dir: Path) -> None:
    """Routing, business hours, agents and clients use the studios the bot tells clients about."""
    from actions.mariia_catalog import Catalog
    from handoff.client_import import read_clients_csv

    config = load_handoff_config(repo_dir / "handoff.yml")
    catalogue = Catalog.load(repo_dir / "data" / "demo").locations
    assert (
        set(config.locations)
        == set(catalogue)
        == {"warsaw_mokotow", "warsaw_srodmiescie", "krakow_kazimierz"}
    )
    days = {"mon": "mon_fri", "tue": "mon_fri", "wed": "mon_fri", "thu": "mon_fri", "fri": "mon_fri"}
    for key, studio in catalogue.items():
        hours = config.locations[key].hours
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            told = getattr(studio, days.get(day, day))
            assert hours.get(day, ["closed"]) == [told], (key, day)
        assert config.locations[key].name == studio.name_en
    assert config.default_location in catalogue
    for agent in load_agents(repo_dir / config.agents_file).agents:
        assert set(agent.locations) <= set(catalogue), agent.id
    clients = read_clients_csv(repo_dir / config.clients_file)
    assert clients and all(c.home_location in (None, *catalogue) for c in clients)
    assert all(v.location in (None, *catalogue) for c in clients for v in c.visits)


def test_a_locations_file_replaces_the_studios_and_says_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "handoff.yml").write_text(
        "locations_file: studios.csv\ndefault_location: north\n", encoding="utf-8"
    )
    studios = tmp_path / "studios.csv"
    studios.write_text(
        "key,name_en,mon_fri,sat,sun\nnorth,North Studio,08:00-20:00,10:00-14:00,closed\n", encoding="utf-8"
    )
    config = load_handoff_config(tmp_path / "handoff.yml")
    assert set(config.locations) == {"north"} and config.locations["north"].name == "North Studio"
    assert config.locations["north"].hours == {
        **{d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["10:00-14:00"],
    }
    studios.write_text("key,name_en,mon_fri,sat\nnorth,North,08:00-20:00,closed\n", encoding="utf-8")
    with pytest.raises(FormatError, match="missing columns: sun"):
        load_handoff_config(tmp_path / "handoff.yml")
    studios.write_text(
        "key,name_en,mon_fri,sat,sun\nnorth,A,08:00-20:00,closed,closed\nnorth,B,08:00-20:00,closed,closed\n",
        encoding="utf-8",
    )
    with pytest.raises(FormatError, match=r"studios.csv:3: empty or repeated key 'north'"):
        load_handoff_config(tmp_path / "handoff.yml")
    studios.write_text(
        "key,name_en,mon_fri,sat,sun\nnorth,North,20:00-08:00,closed,closed\n", encoding="utf-8"
    )
    with pytest.raises(FormatError, match="bad span '20:00-08:00'"):
        load_handoff_config(tmp_path / "handoff.yml")
    (tmp_path / "handoff.yml").write_text(
        "locations_file: nowhere.csv\ndefault_location: north\n", encoding="utf-8"
    )
    with pytest.raises(FormatError, match="cannot read the locations file"):
        load_handoff_config(tmp_path / "handoff.yml")
