"""``concierge test``: evaluate a project the way ``rasa test`` does and write Rasa's reports.

NLU is measured on data the classifier never saw (the project's NLU test file, or a
stratified held-out split of its training data); test stories are replayed step by
step with the story's own events, comparing the predicted action at every step and
the predicted intent of every user line (custom actions need not run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.agent import Agent
from bot.evaluation.nlu import evaluate_nlu, split_examples
from bot.evaluation.stories import evaluate_stories
from bot.loaders import load_nlu, load_project, load_stories
from bot.nlu.pipeline import NLUPipeline

Progress = Callable[[str, float], None]


def run_tests(
    project_dir: Path,
    model_dir: Path,
    out: Path,
    *,
    stories_file: Path | None = None,
    nlu_file: Path | None = None,
    split: float = 0.2,
    seed: int = 42,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run both evaluations, write ``results/`` and return a summary."""
    project = load_project(project_dir)
    agent = Agent.load_or_train(project_dir, model_dir, progress=progress)
    out.mkdir(parents=True, exist_ok=True)

    if nlu_file is not None:
        test_examples = load_nlu([nlu_file]).examples
        nlu_model, nlu_source = agent.nlu, str(nlu_file)
    else:
        train_examples, test_examples = split_examples(project.nlu.examples, split, seed)
        held_out = project.nlu.model_copy(update={"examples": train_examples})
        nlu_model = NLUPipeline.train(held_out, project.config, project.domain, progress=progress)
        nlu_source = f"held-out {split:.0%} of the training data (seed {seed})"
    nlu_report = evaluate_nlu(nlu_model, test_examples)
    nlu_json = nlu_report.to_json()
    (out / "intent_report.json").write_text(json.dumps(nlu_json["intent_report"], indent=2))
    (out / "intent_errors.json").write_text(json.dumps(nlu_json.get("errors", []), indent=2))
    if "entity_report" in nlu_json:
        (out / "entity_report.json").write_text(json.dumps(nlu_json["entity_report"], indent=2))

    tests = load_stories([stories_file]) if stories_file else project.test_stories
    story_report = evaluate_stories(tests, agent.policies, agent.domain, nlu=agent.nlu)
    story_json = story_report.to_json()
    (out / "story_report.json").write_text(json.dumps(story_json, indent=2))
    (out / "failed_test_stories.yml").write_text(story_report.failed_stories_yaml())

    intent = nlu_json["intent_report"]
    return {
        "project": str(project_dir),
        "nlu": {
            "source": nlu_source,
            "examples": len(test_examples),
            "accuracy": intent.get("accuracy"),
            "macro_f1": intent.get("macro avg", {}).get("f1-score"),
        },
        "stories": {
            "conversation_accuracy": story_json["conversation_accuracy"],
            "action_accuracy": story_json.get("accuracy"),
        },
        "results": str(out.resolve()),
    }
