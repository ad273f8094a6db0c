"""A trained bot: domain + NLU pipeline + policies (+ sentiment), trained from a project and
saved as one model.

``Agent.load_or_train`` retrains only when the project's files changed (a fingerprint
of domain, config and data, the sentiment CSVs included), so ``concierge run`` starts
fast on an unchanged project.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import BotConfig
from bot.domain import Domain
from bot.events import ParseData
from bot.loaders import Project, load_project
from bot.nlu.bounds import window
from bot.nlu.pipeline import NLUPipeline
from bot.policies.ensemble import PolicyEnsemble
from bot.sentiment.project import TEST_FILE, TRAIN_FILE, ProjectSentiment

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
FORMAT_VERSION = 1


def project_fingerprint(project_dir: Path) -> str:
    """A hash of every file that shapes the model (domain, config, data, sentiment examples)."""
    digest = hashlib.sha256(f"format{FORMAT_VERSION}".encode())
    candidates = [project_dir / "domain.yml", project_dir / "config.yml"]
    for folder in (project_dir / "domain", project_dir / "data"):
        if folder.is_dir():
            candidates.extend(sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml")))
    # the held-apart set too: its report is part of the model
    candidates.extend([project_dir / TRAIN_FILE, project_dir / TEST_FILE])
    for path in candidates:
        if path.is_file():
            digest.update(str(path.relative_to(project_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Agent:
    """Everything needed to understand a message and choose the bot's next action."""

    domain: Domain
    config: BotConfig
    nlu: NLUPipeline
    policies: PolicyEnsemble
    fingerprint: str = ""
    trained_at: float = 0.0
    sentiment: ProjectSentiment | None = None

    @classmethod
    def train(cls, project: Project, progress: Progress | None = None) -> Agent:
        """Train NLU, policies and (when the project has examples) the sentiment model."""
        started = time.time()
        nlu = NLUPipeline.train(project.nlu, project.config, project.domain, progress=progress)
        policies = PolicyEnsemble.train(project.stories, project.domain, project.config, progress=progress)
        sentiment = ProjectSentiment.train(project.directory)
        log.info("trained in %.1fs", time.time() - started)
        return cls(
            domain=project.domain,
            config=project.config,
            nlu=nlu,
            policies=policies,
            fingerprint=project_fingerprint(project.directory),
            trained_at=time.time(),
            sentiment=sentiment,
        )

    def parse(self, text: str) -> ParseData:
        """NLU plus the message's sentiment (``parse_data["sentiment"]``); CPU work, call it
        from a thread in async code."""
        parsed = self.nlu.parse(text)
        if self.sentiment is None:
            return parsed
        scored = self.sentiment.score(window(text))  # the NLU's bounded window (bot.nlu.bounds)
        return parsed if scored is None else parsed.model_copy(update={"sentiment": scored})

    def save(self, directory: Path) -> None:
        """Write the model atomically: a half-written model never replaces a good one."""
        staging = directory.with_name(directory.name + ".tmp")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        (staging / "domain.json").write_text(self.domain.model_dump_json())
        (staging / "config.json").write_text(self.config.model_dump_json())
        self.nlu.save(staging / "nlu")
        self.policies.save(staging / "policies")
        if self.sentiment is not None:
            self.sentiment.save(staging / "sentiment")
        meta = {"fingerprint": self.fingerprint, "trained_at": self.trained_at, "format": FORMAT_VERSION}
        (staging / "meta.json").write_text(json.dumps(meta))
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)

    @classmethod
    def load(cls, directory: Path) -> Agent:
        meta = json.loads((directory / "meta.json").read_text())
        return cls(
            domain=Domain.model_validate_json((directory / "domain.json").read_text()),
            config=BotConfig.model_validate_json((directory / "config.json").read_text()),
            nlu=NLUPipeline.load(directory / "nlu"),
            policies=PolicyEnsemble.load(directory / "policies"),
            fingerprint=meta["fingerprint"],
            trained_at=meta["trained_at"],
            sentiment=ProjectSentiment.load(directory / "sentiment"),
        )

    @classmethod
    def load_or_train(cls, project_dir: Path, model_dir: Path, progress: Progress | None = None) -> Agent:
        """Load the saved model if it matches the project's files, else train and save one."""
        wanted = project_fingerprint(project_dir)
        meta_file = model_dir / "meta.json"
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text())
            if meta.get("fingerprint") == wanted and meta.get("format") == FORMAT_VERSION:
                return cls.load(model_dir)
            log.info("project changed since the model was trained; retraining")
        agent = cls.train(load_project(project_dir), progress=progress)
        agent.save(model_dir)
        return agent
