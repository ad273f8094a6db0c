"""Domain files (Rasa 2.0 to 3.1, single file or directory) load into :class:`Domain`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import Domain, MappingCondition, SlotMapping
from bot.errors import FormatError
from bot.loaders import load_domain

from .helpers import write


@pytest.fixture(scope="module")
def financial(eval_dir: Path) -> Domain:
    return load_domain([eval_dir / "rasa-bots" / "financial-demo" / "domain.yml"])


@pytest.fixture(scope="module")
def helpdesk(eval_dir: Path) -> Domain:
    return load_domain([eval_dir / "rasa-bots" / "helpdesk-assistant" / "domain.yml"])


def test_financial_demo_counts(financial: Domain) -> None:
    assert len(financial.intents) == 22
    assert len(financial.entities) == 10
    # 24 slots in the file plus Rasa's implicit session_started_metadata
    assert len(financial.slots) == 25
    assert "session_started_metadata" in financial.slots
    assert len(financial.responses) == 51
    assert len(financial.actions) == 18
    assert sorted(financial.forms) == ["cc_payment_form", "transaction_search_form", "transfer_money_form"]
    assert financial.session_config.session_expiration_time == 0


def test_financial_demo_intent_entity_use(financial: Domain) -> None:
    assert financial.intent("transfer_money").use_entities == []  # type: ignore[union-attr]
    check_balance = financial.intent("check_balance")
    assert check_balance is not None
    assert check_balance.use_entities == ["credit_card", "account_type"]
    assert check_balance.entity_used("credit_card") and not check_balance.entity_used("time")
    assert financial.intent("greet").use_entities is None  # type: ignore[union-attr]


def test_financial_demo_continue_form_mappings(financial: Domain) -> None:
    slot = financial.slots["AA_CONTINUE_FORM"]
    assert slot.type == "any" and slot.influence_conversation is False
    affirm, deny, cc_text = slot.mappings[0], slot.mappings[1], slot.mappings[2]
    assert (affirm.type, affirm.intent, affirm.value) == ("from_intent", ["affirm"], "yes")
    assert len(affirm.conditions) == 3
    assert affirm.conditions[1] == MappingCondition(
        active_loop="transfer_money_form", requested_slot="AA_CONTINUE_FORM"
    )
    assert deny.value == "no"
    assert cc_text.type == "from_text"
    assert cc_text.intent == ["inform", "cc_payment_form"]
    assert cc_text.conditions == [
        MappingCondition(active_loop="cc_payment_form", requested_slot="AA_CONTINUE_FORM")
    ]
    assert len(slot.mappings) == 5


def test_financial_demo_other_slots_and_responses(financial: Domain) -> None:
    amount = financial.slots["amount-of-money"].mappings[0]
    assert amount.not_intent == ["check_balance", "check_earnings"]
    search = financial.slots["search_type"].mappings[0]
    assert (search.type, search.intent, search.value) == (
        "from_trigger_intent",
        ["search_transactions"],
        "spend",
    )
    assert financial.slots["currency"].initial_value == "$"
    assert financial.slots["amount_transferred"].initial_value == 0
    assert financial.slots["next_form_name"].influence_conversation is True
    buttons = financial.responses["utter_ask_transaction_search_form_search_type"][0].buttons
    assert [b.title for b in buttons] == ["Incoming (earnings)", "Outgoing (spending)"]
    assert buttons[0].payload == '/inform{"search_type":"deposit"}\''
    assert financial.forms["transfer_money_form"].required_slots == [
        "AA_CONTINUE_FORM",
        "PERSON",
        "amount-of-money",
        "zz_confirm_form",
    ]


def test_helpdesk_form_and_bool_slot(helpdesk: Domain) -> None:
    form = helpdesk.forms["open_incident_form"]
    assert form.required_slots == ["email", "priority", "problem_description", "incident_title", "confirm"]
    assert form.ignored_intents == []
    confirm = helpdesk.slots["confirm"]
    assert confirm.type == "bool"
    assert [m.value for m in confirm.mappings] == [True, False]
    assert helpdesk.intent("open_incident").use_entities == []  # type: ignore[union-attr]
    assert len(helpdesk.intents) == 17 and len(helpdesk.responses) == 21


DOMAIN_31 = """
    version: "3.1"
    intents:
    - greet
    - inform:
        use_entities: true
    - chitchat:
        ignore_entities: [city]
    - faq
    entities:
    - city:
        roles: [departure, destination]
        groups: ["1", "2"]
    - cuisine
    - mood:
        influence_conversation: false
    slots:
      cuisine:
        type: categorical
        values: [italian, thai]
        mappings:
        - type: from_entity
          entity: cuisine
          intent: inform
          not_intent: [chitchat]
      budget:
        type: float
        min_value: 10
        max_value: 500
        initial_value: 50
        mappings:
        - type: custom
          action: action_budget
      city_from:
        type: text
        influence_conversation: false
        mappings:
        - type: from_entity
          entity: city
          role: departure
          conditions:
          - active_loop: booking_form
            requested_slot: city_from
          - active_loop: null
    responses:
      utter_greet:
      - text: "Hello {name}!"
        channel: telegram
      - text: Hello!
        image: https://example.com/hi.png
        buttons:
        - title: Book
          payload: /book
        button_type: vertical
      - custom:
          blocks: [1, 2]
      - text: Welcome back, VIP
        condition:
        - type: slot
          name: vip
          value: true
        quick_replies: [a, b]
      utter_faq/ask_hours:
      - text: We are open 9 to 5.
    actions:
    - action_book
    - action_lookup:
        send_domain: true
    forms:
      booking_form:
        ignored_intents: chitchat
        required_slots:
        - city_from
        - cuisine
    session_config:
      session_expiration_time: 30
      carry_over_slots_to_new_session: false
"""


def test_format_31_domain(tmp_path: Path) -> None:
    write(tmp_path, {"domain.yml": DOMAIN_31})
    warnings: list[str] = []
    domain = load_domain([tmp_path / "domain.yml"], warnings)
    assert [i.name for i in domain.intents] == ["greet", "inform", "chitchat", "faq"]
    chitchat = domain.intent("chitchat")
    assert chitchat is not None and chitchat.ignore_entities == ["city"] and not chitchat.entity_used("city")
    assert domain.intent("inform").use_entities is None  # type: ignore[union-attr]
    city = domain.entities[0]
    assert (city.roles, city.groups) == (["departure", "destination"], ["1", "2"])
    assert domain.entities[2].influence_conversation is False
    cuisine = domain.slots["cuisine"]
    assert cuisine.values == ["italian", "thai"]
    assert cuisine.mappings[0].intent == ["inform"] and cuisine.mappings[0].not_intent == ["chitchat"]
    budget = domain.slots["budget"]
    assert (budget.min_value, budget.max_value, budget.initial_value) == (10.0, 500.0, 50)
    assert budget.mappings == [SlotMapping(type="custom", action="action_budget")]
    city_from = domain.slots["city_from"].mappings[0]
    assert city_from.role == "departure"
    assert city_from.conditions[1] == MappingCondition(active_loop=None)
    assert domain.forms["booking_form"].ignored_intents == ["chitchat"]
    assert domain.actions == ["action_book", "action_lookup"]
    assert domain.session_config.session_expiration_time == 30
    assert domain.session_config.carry_over_slots_to_new_session is False
    # requested_slot is added because there is a form, as Rasa does
    assert domain.slots["requested_slot"].influence_conversation is False
    assert warnings == []


def test_format_31_responses(tmp_path: Path) -> None:
    write(tmp_path, {"domain.yml": DOMAIN_31})
    domain = load_domain([tmp_path / "domain.yml"])
    greet = domain.responses["utter_greet"]
    assert greet[0].text == "Hello {name}!" and greet[0].channel == "telegram"
    assert greet[1].image == "https://example.com/hi.png"
    assert greet[1].buttons[0].payload == "/book" and greet[1].button_type == "vertical"
    assert greet[2].custom == {"blocks": [1, 2]}
    assert greet[3].condition[0].name == "vip" and greet[3].condition[0].value is True
    assert greet[3].model_extra == {"quick_replies": ["a", "b"]}
    assert domain.retrieval_intents == ["faq"]
    assert "utter_faq" in domain.action_names


DOMAIN_20 = """
    version: "2.0"
    intents: [greet, inform, affirm, deny]
    entities: [cuisine, number, outdoor]
    slots:
      cuisine:
        type: text
      num_people:
        type: float
      outdoor:
        type: bool
        auto_fill: false
      number:
        type: any
      note:
        type: text
    forms:
      restaurant_form:
        required_slots:
          cuisine:
          - type: from_entity
            entity: cuisine
          num_people:
          - type: from_entity
            entity: number
          outdoor:
          - type: from_intent
            intent: affirm
            value: true
          - type: from_intent
            intent: deny
            value: false
"""


def test_format_20_domain_migrates_like_rasa(tmp_path: Path) -> None:
    write(tmp_path, {"domain.yml": DOMAIN_20})
    domain = load_domain([tmp_path / "domain.yml"])
    assert domain.forms["restaurant_form"].required_slots == ["cuisine", "num_people", "outdoor"]
    cuisine = domain.slots["cuisine"].mappings
    # the form's mapping (active while the form runs) and Rasa 2's implicit auto-fill mapping
    assert cuisine == [
        SlotMapping(
            type="from_entity", entity="cuisine", conditions=[MappingCondition(active_loop="restaurant_form")]
        ),
        SlotMapping(type="from_entity", entity="cuisine"),
    ]
    assert domain.slots["num_people"].mappings == [
        SlotMapping(
            type="from_entity", entity="number", conditions=[MappingCondition(active_loop="restaurant_form")]
        )
    ]
    outdoor = domain.slots["outdoor"].mappings
    assert [m.value for m in outdoor] == [True, False]
    assert outdoor[0].conditions == [
        MappingCondition(active_loop="restaurant_form", requested_slot="outdoor")
    ]
    # auto_fill: false -> no implicit entity mapping even though an 'outdoor' entity exists
    assert all(not (m.type == "from_entity" and m.entity == "outdoor") for m in outdoor)
    assert domain.slots["number"].mappings == [SlotMapping(type="from_entity", entity="number")]
    assert domain.slots["note"].mappings == [SlotMapping(type="custom")]
    assert domain.slots["number"].influence_conversation is False


def test_format_20_store_entities_as_slots_false(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "domain.yml": """
        version: "2.0"
        config:
          store_entities_as_slots: false
        entities: [city]
        slots:
          city:
            type: text
    """
        },
    )
    domain = load_domain([tmp_path / "domain.yml"])
    assert domain.slots["city"].mappings == [SlotMapping(type="custom")]


def test_rasa_20_form_without_required_slots_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "domain.yml": """
        version: "2.0"
        entities: [email]
        slots:
          email:
            type: text
        forms:
          contact_form:
            email:
            - type: from_text
    """
        },
    )
    domain = load_domain([tmp_path / "domain.yml"])
    assert domain.forms["contact_form"].required_slots == ["email"]
    assert domain.slots["email"].mappings[0] == SlotMapping(
        type="from_text", conditions=[MappingCondition(active_loop="contact_form", requested_slot="email")]
    )


def test_domain_directory_is_merged(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "domain/intents.yml": 'version: "3.1"\nintents: [greet, bye]\nentities: [name]\n',
            "domain/sub/slots.yml": """
            version: "3.1"
            intents: [greet, thanks]
            slots:
              name:
                type: text
                mappings:
                - type: from_entity
                  entity: name
            responses:
              utter_greet:
              - text: Hi {name}
        """,
            "domain/more.yml": """
            responses:
              utter_greet:
              - text: A second greeting
              utter_bye:
              - text: Bye
            session_config:
              session_expiration_time: 5
        """,
            "domain/notes.txt": "not yaml",
        },
    )
    warnings: list[str] = []
    domain = load_domain([tmp_path / "domain"], warnings)
    assert [i.name for i in domain.intents] == ["greet", "bye", "thanks"]
    # files are read in sorted order (more.yml before sub/slots.yml); the first definition wins
    assert domain.responses["utter_greet"][0].text == "A second greeting"
    assert set(domain.responses) == {"utter_greet", "utter_bye"}
    assert domain.session_config.session_expiration_time == 5
    assert any("'utter_greet' is defined twice" in w for w in warnings)


def _error(tmp_path: Path, text: str) -> FormatError:
    write(tmp_path, {"domain.yml": text})
    with pytest.raises(FormatError) as err:
        load_domain([tmp_path / "domain.yml"])
    assert err.value.path == str(tmp_path / "domain.yml")
    return err.value


def test_unknown_mapping_type_names_slot_and_line(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        """
        version: "3.1"
        slots:
          x:
            type: text
            mappings:
            - type: from_entiy
              entity: x
    """,
    )
    assert err.line == 6
    assert "slot 'x': unknown mapping type 'from_entiy'" in err.reason


def test_from_entity_without_entity(tmp_path: Path) -> None:
    err = _error(tmp_path, "slots:\n  x:\n    type: text\n    mappings:\n    - type: from_entity\n")
    assert err.line == 5 and "'entity'" in err.reason


def test_misspelt_slot_key(tmp_path: Path) -> None:
    err = _error(tmp_path, "slots:\n  x:\n    type: text\n    mapings: []\n")
    assert err.line == 4 and "unknown key 'mapings'" in err.reason


def test_unknown_slot_type(tmp_path: Path) -> None:
    err = _error(tmp_path, "slots:\n  x:\n    type: txt\n")
    assert err.line == 3 and "unknown slot type 'txt'" in err.reason


def test_any_slot_cannot_influence_conversation(tmp_path: Path) -> None:
    err = _error(
        tmp_path, "slots:\n  x:\n    type: any\n    influence_conversation: true\n    mappings: []\n"
    )
    assert err.line == 4


def test_use_and_ignore_entities_together(tmp_path: Path) -> None:
    err = _error(tmp_path, "intents:\n- greet:\n    use_entities: [a]\n    ignore_entities: [b]\n")
    assert err.line == 4


def test_wrong_version(tmp_path: Path) -> None:
    err = _error(tmp_path, 'version: "1.0"\nintents: [greet]\n')
    assert err.line == 1 and "unsupported format version '1.0'" in err.reason


def test_missing_domain_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as err:
        load_domain([tmp_path / "nothing"])
    assert "no domain file found" in err.value.reason
