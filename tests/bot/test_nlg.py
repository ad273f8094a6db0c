"""Rendering domain responses: which variation a client gets and what it says."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.domain import Domain
from bot.events import SlotSet
from bot.loaders import load_domain
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

DOMAIN = """
version: "3.1"
slots:
  tier:
    type: text
    mappings: [{type: custom}]
  vip:
    type: bool
    mappings: [{type: custom}]
  name:
    type: text
    mappings: [{type: custom}]
  studio:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet:
  - text: "Hello!"
  - text: "Welcome back, {name}, our {tier} member!"
    condition:
    - type: slot
      name: tier
      value: gold
  - text: "Hi from WhatsApp"
    channel: whatsapp
  - text: "Gold member on WhatsApp"
    channel: whatsapp
    condition:
    - type: slot
      name: tier
      value: gold
  utter_vip:
  - text: "Plain"
  - text: "VIP lounge is yours"
    condition:
    - type: slot
      name: vip
      value: true
    - type: slot
      name: tier
      value: gold
  utter_only_telegram:
  - text: "Telegram only"
    channel: telegram
  utter_book:
  - text: "Book {service} at {studio} for {name}? Price: {{fixed}}"
    buttons:
    - title: "Yes, {studio}"
      payload: '/confirm{{"studio":"{studio}"}}'
    - title: "Other studio"
      payload: '/inform{"studio":"other"}'
    image: "https://img.example/{studio}.png"
    custom:
      card: {title: "{studio}", nested: ["{name}", 3]}
    button_type: vertical
  utter_options:
  - text: "one"
  - text: "two"
  - text: "three"
"""


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Domain:
    path: Path = tmp_path_factory.mktemp("nlg") / "domain.yml"
    path.write_text(textwrap.dedent(DOMAIN))
    return load_domain([path])


def tracker_with(domain: Domain, **slots: object) -> Tracker:
    return Tracker.for_domain("client", domain, [SlotSet(name=k, value=v) for k, v in slots.items()])


def text_of(nlg: ResponseRenderer, name: str, tracker: Tracker, channel: str = "rest") -> str | None:
    event = nlg.render(name, tracker, channel)
    assert event is not None, f"{name} rendered nothing"
    return event.text


def test_unconditional_variation_when_no_condition_matches(domain: Domain) -> None:
    nlg = ResponseRenderer(domain, seed=1)
    for tier in (None, "silver"):
        assert text_of(nlg, "utter_greet", tracker_with(domain, tier=tier, name="Ola")) == "Hello!"


def test_matching_conditional_variation_wins_over_unconditional(domain: Domain) -> None:
    nlg = ResponseRenderer(domain, seed=1)
    tracker = tracker_with(domain, tier="gold", name="Ola")
    assert text_of(nlg, "utter_greet", tracker) == "Welcome back, Ola, our gold member!"


def test_string_conditions_ignore_case(domain: Domain) -> None:
    event = ResponseRenderer(domain).render(
        "utter_greet", tracker_with(domain, tier="GOLD", name="Ola"), "rest"
    )
    assert event is not None and event.text == "Welcome back, Ola, our GOLD member!"


def test_every_condition_must_hold(domain: Domain) -> None:
    nlg = ResponseRenderer(domain)
    assert (
        nlg.render("utter_vip", tracker_with(domain, vip=True, tier="gold"), "rest").text
        == "VIP lounge is yours"
    )
    assert nlg.render("utter_vip", tracker_with(domain, vip=True, tier="silver"), "rest").text == "Plain"
    assert nlg.render("utter_vip", tracker_with(domain, vip=False, tier="gold"), "rest").text == "Plain"


def test_channel_variation_wins_and_conditional_channel_variation_wins_most(domain: Domain) -> None:
    nlg = ResponseRenderer(domain)
    assert nlg.render("utter_greet", tracker_with(domain), "whatsapp").text == "Hi from WhatsApp"
    assert (
        nlg.render("utter_greet", tracker_with(domain, tier="gold"), "whatsapp").text
        == "Gold member on WhatsApp"
    )
    # Another channel never sees WhatsApp's variations.
    texts = {nlg.render("utter_greet", tracker_with(domain), "rest").text for _ in range(30)}
    assert texts == {"Hello!"}


def test_response_only_for_another_channel_renders_nothing(domain: Domain) -> None:
    nlg = ResponseRenderer(domain)
    assert nlg.render("utter_only_telegram", tracker_with(domain), "rest") is None
    assert text_of(nlg, "utter_only_telegram", tracker_with(domain), "telegram") == "Telegram only"


def test_unknown_response_renders_nothing(domain: Domain) -> None:
    assert ResponseRenderer(domain).render("utter_missing", tracker_with(domain), "rest") is None


def test_placeholders_fill_from_slots_and_kwargs_and_keep_what_nothing_fills(domain: Domain) -> None:
    nlg = ResponseRenderer(domain)
    event = nlg.render(
        "utter_book", tracker_with(domain, studio="Mokotów", name="Ola"), "rest", service="massage"
    )
    assert event is not None
    assert event.text == "Book massage at Mokotów for Ola? Price: {fixed}"
    # kwargs win over slots of the same name; a missing value is left as written.
    event = nlg.render("utter_book", tracker_with(domain, studio="Mokotów"), "rest", studio="Wola")
    assert event is not None
    assert event.text == "Book {service} at Wola for None? Price: {fixed}"


def test_buttons_image_and_custom_are_filled_and_stored_as_rasa_data(domain: Domain) -> None:
    nlg = ResponseRenderer(domain)
    event = nlg.render("utter_book", tracker_with(domain, studio="Wola", name="Ola"), "rest", service="yoga")
    assert event is not None
    assert event.data["buttons"] == [
        {"title": "Yes, Wola", "payload": '/confirm{"studio":"Wola"}'},
        {"title": "Other studio", "payload": '/inform{"studio":"other"}'},
    ]
    assert event.data["image"] == "https://img.example/Wola.png"
    # Rasa sends the image as the attachment too when there is no other attachment.
    assert event.data["attachment"] == "https://img.example/Wola.png"
    assert event.data["custom"] == {"card": {"title": "Wola", "nested": ["Ola", 3]}}
    assert event.data["elements"] is None and event.data["quick_replies"] is None
    assert event.metadata == {"utter_action": "utter_book", "button_type": "vertical"}


def test_render_never_fails_on_odd_templates(tmp_path: Path) -> None:
    path = tmp_path / "domain.yml"
    path.write_text(
        textwrap.dedent(
            """
            version: "3.1"
            responses:
              utter_odd:
              - text: "{unclosed and {0} and {a.b} and {} and {{}} and {x:>3}"
            """
        )
    )
    domain = load_domain([path])
    event = ResponseRenderer(domain).render("utter_odd", Tracker.for_domain("c", domain), "rest", x=1)
    assert event is not None
    assert event.text == "{unclosed and {0} and {a.b} and {} and {} and {x:>3}"


def test_seeded_renderers_choose_the_same_variations(domain: Domain) -> None:
    tracker = tracker_with(domain)
    picks_a = ResponseRenderer(domain, seed=42)
    picks_b = ResponseRenderer(domain, seed=42)
    sequence_a = [text_of(picks_a, "utter_options", tracker) for _ in range(20)]
    sequence_b = [text_of(picks_b, "utter_options", tracker) for _ in range(20)]
    assert sequence_a == sequence_b
    # Every variation gets its turn.
    assert set(sequence_a) == {"one", "two", "three"}


def test_the_most_specific_matching_variation_wins(tmp_path: Path) -> None:
    path = tmp_path / "domain.yml"
    path.write_text(
        textwrap.dedent(
            """
            version: "3.1"
            slots:
              language: {type: text, mappings: [{type: custom}]}
              tier: {type: text, mappings: [{type: custom}]}
            responses:
              utter_greet:
              - text: "Hello!"
              - text: "Dzień dobry!"
                condition: [{type: slot, name: language, value: pl}]
              - text: "Witaj ponownie, VIP!"
                condition: [{type: slot, name: language, value: pl}, {type: slot, name: tier, value: VIP}]
            """
        )
    )
    domain = load_domain([path])
    nlg = ResponseRenderer(domain)
    vip = {
        nlg.render("utter_greet", tracker_with(domain, language="pl", tier="VIP"), "rest").text
        for _ in range(20)
    }
    assert vip == {"Witaj ponownie, VIP!"}
    other = {
        nlg.render("utter_greet", tracker_with(domain, language="pl", tier="Standard"), "rest").text
        for _ in range(20)
    }
    assert other == {"Dzień dobry!"}
