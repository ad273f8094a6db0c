"""Whole Rasa projects load unchanged: discovery, merging and the errors users see."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from bot.loaders import Project, load_project
from bot.training_data import OrStep, SlotStep, UserStep

from .helpers import write


@pytest.fixture(scope="module")
def helpdesk(eval_dir: Path) -> Project:
    return load_project(eval_dir / "rasa-bots" / "helpdesk-assistant")


@pytest.fixture(scope="module")
def financial(eval_dir: Path) -> Project:
    return load_project(eval_dir / "rasa-bots" / "financial-demo")


def test_helpdesk_assistant_loads_unchanged(helpdesk: Project) -> None:
    d = helpdesk.domain
    assert (len(d.intents), len(d.entities), len(d.slots), len(d.responses), len(d.forms)) == (
        17,
        3,
        10,
        21,
        2,
    )
    assert len(helpdesk.nlu.examples) == 452 and len(helpdesk.nlu.intents) == 14
    assert (len(helpdesk.stories.stories), len(helpdesk.stories.rules)) == (14, 7)
    assert len(helpdesk.test_stories.stories) == 12
    assert d.forms["open_incident_form"].required_slots == [
        "email",
        "priority",
        "problem_description",
        "incident_title",
        "confirm",
    ]
    assert helpdesk.nlu.synonyms["urgent"] == "high"
    assert helpdesk.config.policy("TEDPolicy").get("max_history") == 4  # type: ignore[union-attr]
    assert helpdesk.endpoints.action_endpoint is None  # the public bot ships no endpoints.yml
    assert helpdesk.directory.name == "helpdesk-assistant"
    everything = [*helpdesk.stories.stories, *helpdesk.stories.rules]
    or_steps = [s for story in everything for s in story.steps if isinstance(s, OrStep)]
    assert len(or_steps) == 5  # four in stories.yml, one in rules.yml


def test_financial_demo_loads_unchanged(financial: Project) -> None:
    d = financial.domain
    assert (len(d.intents), len(d.entities), len(d.slots), len(d.responses), len(d.forms)) == (
        22,
        10,
        25,
        51,
        3,
    )
    assert len(financial.nlu.examples) == 578
    assert (len(financial.stories.stories), len(financial.stories.rules)) == (19, 20)
    assert len(financial.test_stories.stories) == 48
    assert financial.nlu.synonyms["emblm"] == "emblem"
    rule = next(r for r in financial.stories.rules if r.name.startswith("Submit cc_payment_form while not"))
    assert SlotStep(name="previous_form_name", value=None) in rule.condition
    emblm = [
        s
        for story in financial.test_stories.stories
        for s in story.steps
        if isinstance(s, UserStep) and s.text == "i want to pay off my emblm"
    ]
    assert len(emblm) == 3 and all(s.entities[0].value == "emblem" for s in emblm)  # type: ignore[union-attr]
    assert any("SpacyEntityExtractor" in w for w in financial.warnings)


def test_public_bots_use_only_known_names(helpdesk: Project, financial: Project) -> None:
    for project in (helpdesk, financial):
        assert not [w for w in project.warnings if "which is not in the domain" in w]


MINIMAL_31 = {
    "domain.yml": """
        version: "3.1"
        intents: [greet, faq]
        responses:
          utter_greet:
          - text: Hi!
    """,
    "config.yml": (
        "recipe: default.v1\nlanguage: en\n"
        "pipeline:\n- name: WhitespaceTokenizer\npolicies:\n- name: RulePolicy\n"
    ),
    "data/nlu/nlu.yml": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
            - hello
        - intent: faq/opening_hours
          examples: |
            - when do you open
        responses:
          utter_faq/opening_hours:
          - text: From 9 to 5.
    """,
    "data/mixed.yaml": """
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet
        stories:
        - story: faq
          steps:
          - intent: faq
          - action: utter_faq
    """,
    "data/test_flows.yml": (
        "stories:\n- story: t\n  steps:\n  - user: hi\n    intent: greet\n  - action: utter_greet\n"
    ),
    "data/README.yml": "title: not training data\n",
    "tests/test_conversations.yml": (
        'version: "3.1"\nstories:\n- story: t2\n  steps:\n  - user: hello\n    intent: greet\n'
    ),
    "tests/other.yml": "- not a mapping\n",
    "endpoints.yml": "action_endpoint:\n  url: http://localhost:5055/webhook\n",
}


def test_minimal_31_project(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, MINIMAL_31))
    assert [e.text for e in project.nlu.examples] == ["hi", "hello", "when do you open"]
    # the retrieval response from the data file is merged into the domain
    assert project.domain.responses["utter_faq/opening_hours"][0].text == "From 9 to 5."
    assert "utter_faq" in project.domain.action_names
    assert [r.name for r in project.stories.rules] == ["greet"]
    assert [s.name for s in project.stories.stories] == ["faq"]
    # data/test_*.yml and tests/*.yml are test stories, not training stories
    assert sorted(s.name for s in project.test_stories.stories) == ["t", "t2"]
    assert project.endpoints.action_endpoint is not None
    assert project.endpoints.action_endpoint.url == "http://localhost:5055/webhook"
    assert any("README.yml: no nlu, responses, stories or rules key" in w for w in project.warnings)


def test_minimal_20_project_with_dict_form(tmp_path: Path) -> None:
    project = load_project(
        write(
            tmp_path,
            {
                "domain.yml": """
            version: "2.0"
            intents: [request_room, inform]
            entities: [guests]
            slots:
              guests:
                type: float
              name:
                type: text
            forms:
              room_form:
                required_slots:
                  guests:
                  - type: from_entity
                    entity: guests
                  name:
                  - type: from_text
                    intent: inform
            responses:
              utter_ask_guests:
              - text: How many guests?
        """,
                "config.yml": "language: en\npolicies:\n- name: RulePolicy\n- name: FormPolicy\n",
                "data/nlu.yml": (
                    'version: "2.0"\nnlu:\n- intent: request_room\n'
                    "  examples: |\n    - a room for [2](guests)\n"
                ),
                "data/rules.yml": """
            version: "2.0"
            rules:
            - rule: activate form
              steps:
              - intent: request_room
              - action: room_form
              - active_loop: room_form
        """,
            },
        )
    )
    form = project.domain.forms["room_form"]
    assert form.required_slots == ["guests", "name"]
    name_mapping = project.domain.slots["name"].mappings[0]
    assert (name_mapping.type, name_mapping.intent) == ("from_text", ["inform"])
    assert name_mapping.conditions[0].requested_slot == "name"
    assert [m.entity for m in project.domain.slots["guests"].mappings] == ["guests", "guests"]
    assert project.nlu.examples[0].entities[0].value == "2"
    assert [p.name for p in project.config.policies] == ["RulePolicy"]
    assert any("FormPolicy is not supported" in w for w in project.warnings)


def test_intents_and_actions_missing_from_domain_are_warned(tmp_path: Path) -> None:
    files = dict(MINIMAL_31)
    files["data/extra.yml"] = (
        "stories:\n- story: odd\n  steps:\n  - intent: order_pizza\n  - action: action_bake\n"
    )
    project = load_project(write(tmp_path, files))
    path = tmp_path / "data" / "extra.yml"
    assert f"{path}:2: story 'odd' uses intent 'order_pizza' which is not in the domain" in project.warnings
    assert f"{path}:2: story 'odd' uses action 'action_bake' which is not in the domain" in project.warnings


def test_domain_directory_project(tmp_path: Path) -> None:
    files = dict(MINIMAL_31)
    del files["domain.yml"]
    files["domain/intents.yml"] = "intents: [greet, faq]\n"
    files["domain/responses.yml"] = "responses:\n  utter_greet:\n  - text: Hi!\n"
    project = load_project(write(tmp_path, files))
    assert project.domain.intent_names[:2] == ["greet", "faq"]
    assert "utter_greet" in project.domain.responses


def test_missing_domain(tmp_path: Path) -> None:
    files = dict(MINIMAL_31)
    del files["domain.yml"]
    with pytest.raises(FormatError) as err:
        load_project(write(tmp_path, files))
    assert err.value.path == str(tmp_path / "domain.yml")
    assert "missing domain" in err.value.reason


def test_missing_config(tmp_path: Path) -> None:
    files = dict(MINIMAL_31)
    del files["config.yml"]
    with pytest.raises(FormatError) as err:
        load_project(write(tmp_path, files))
    assert err.value.path == str(tmp_path / "config.yml") and "missing config" in err.value.reason


def test_error_in_a_data_file_names_it(tmp_path: Path) -> None:
    files = dict(MINIMAL_31)
    files["data/rules.yml"] = 'version: "3.1"\nrules:\n- rule: r\n  steps:\n  - intnt: greet\n'
    with pytest.raises(FormatError) as err:
        load_project(write(tmp_path, files))
    assert (err.value.path, err.value.line) == (str(tmp_path / "data" / "rules.yml"), 5)
    assert str(err.value) == f"{tmp_path / 'data' / 'rules.yml'}:5: rule 'r' step 1: unknown step key 'intnt'"


def test_concierges_own_data_files_are_skipped_quietly_but_misspelt_rasa_files_still_warn(
    tmp_path: Path, repo_dir: Path
) -> None:
    files = {
        **MINIMAL_31,
        "data/agents.yml": (repo_dir / "data" / "agents.yml").read_text(encoding="utf-8"),
        "data/knowledge_tests.yml": (repo_dir / "data" / "knowledge_tests.yml").read_text(encoding="utf-8"),
        "data/typo.yml": "nlus:\n  - intent: greet\n    examples: |\n      - hi\n",
        # an agents key that is not a list of agents is not the agents file
        "data/odd.yml": "agents: everyone\n",
    }
    project = load_project(write(tmp_path, files))
    skipped = [w for w in project.warnings if "no nlu, responses, stories or rules key" in w]
    assert sorted(Path(w.split(":")[0]).name for w in skipped) == ["README.yml", "odd.yml", "typo.yml"]


def test_a_broken_yaml_file_in_data_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError):
        load_project(write(tmp_path, {**MINIMAL_31, "data/agents.yml": "agents: [\n  - id: anna\n"}))
