"""The labelled set that calibrates automated quality scoring (issue 14, item 6).

``data/quality/conversations.yml`` holds support conversations written by the project, of
deliberately varying quality, each scored for one speaker (the bot or a named agent). People
label them, each in their own file ``data/quality/labels_<name>.yml``: for every conversation
and each of the eight categories of :mod:`console.services.analytics.quality`, 1 (meets the
bar), 0 (does not) or null (does not apply). Two labellers per conversation give the
agreement the scorer is measured against.

Both files are validated on load and a problem is reported with the file (and the YAML line
where there is one): duplicate ids, a speaker without an agent, a label for a conversation the
set does not have, a category missing or misspelt, a value other than 0, 1 or null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import FormatError
from bot.models import TranscriptEntry
from console.services.analytics.quality import CATEGORIES, Speaker

MAX_FILE_BYTES = 2_000_000
MAX_CONVERSATIONS = 2_000
MAX_TURNS = 20
MAX_TEXT = 2_000
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"

Language = Literal["en", "pl", "uk"]
ConversationId = Annotated[str, Field(pattern=ID_PATTERN)]
# 1 meets the bar, 0 does not, None does not apply; strict so YAML's yes/no/true are refused
Label = Annotated[int, Field(strict=True, ge=0, le=1)] | None


class Turn(BaseModel):
    """One message: who wrote it and what."""

    model_config = ConfigDict(extra="forbid")

    sender: Literal["client", "bot", "agent"]
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class QualityConversation(BaseModel):
    """A conversation whose ``speaker``'s replies are scored; ``agent`` names the person."""

    model_config = ConfigDict(extra="forbid")

    id: ConversationId
    language: Language
    speaker: Speaker
    agent: str | None = Field(default=None, min_length=1, max_length=64)
    turns: list[Turn] = Field(min_length=2, max_length=MAX_TURNS)

    @model_validator(mode="after")
    def _consistent(self) -> QualityConversation:
        if self.speaker == "agent" and self.agent is None:
            raise ValueError("speaker is agent but no agent is named")
        if self.speaker == "bot" and self.agent is not None:
            raise ValueError("agent is named but the speaker is the bot")
        senders = {t.sender for t in self.turns}
        if "client" not in senders:
            raise ValueError("no client turn")
        other = senders - {"client", self.speaker}
        if other:
            raise ValueError(f"turns by {', '.join(sorted(other))}, but the speaker is {self.speaker}")
        if self.speaker not in senders:
            raise ValueError(f"no {self.speaker} turn to score")
        return self


class QualitySet(BaseModel):
    """The conversations file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    conversations: list[QualityConversation] = Field(min_length=1, max_length=MAX_CONVERSATIONS)

    @model_validator(mode="after")
    def _unique_ids(self) -> QualitySet:
        ids = [c.id for c in self.conversations]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate conversation id(s): {', '.join(dupes)}")
        return self

    @property
    def ids(self) -> list[str]:
        """Conversation ids in file order."""
        return [c.id for c in self.conversations]

    def get(self, conversation_id: str) -> QualityConversation | None:
        """The conversation with this id, if any."""
        return next((c for c in self.conversations if c.id == conversation_id), None)


class LabelSet(BaseModel):
    """One labeller's file: per conversation, every category labelled 1, 0 or null."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    labeller: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    labels: dict[ConversationId, dict[str, Label]] = Field(max_length=MAX_CONVERSATIONS)

    @model_validator(mode="after")
    def _every_category(self) -> LabelSet:
        expected = set(CATEGORIES)
        problems = []
        for conversation_id, categories in self.labels.items():
            missing = [c for c in CATEGORIES if c not in categories]
            unknown = sorted(set(categories) - expected)
            if missing:
                problems.append(f"{conversation_id}: missing {', '.join(missing)}")
            if unknown:
                problems.append(f"{conversation_id}: unknown categor(ies) {', '.join(unknown)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def unlabelled(self, quality_set: QualitySet) -> list[str]:
        """Conversations of the set this labeller has not labelled yet, in file order."""
        return [i for i in quality_set.ids if i not in self.labels]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key twice in one mapping (PyYAML keeps the last silently,
    which would lose a label without a word)."""


def _no_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _no_duplicate_keys,
)


def _read(path: Path) -> Any:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FormatError(str(path), f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise FormatError(str(path), f"invalid YAML: {exc}", line=line) from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def load_quality_set(path: Path) -> QualitySet:
    """Read and validate a conversations file."""
    path = Path(path)
    try:
        return QualitySet.model_validate(_read(path))
    except ValidationError as exc:
        raise FormatError(str(path), _problems(exc)) from None


def load_labels(path: Path, quality_set: QualitySet | None = None) -> LabelSet:
    """Read and validate one labeller's file against ``quality_set`` (by default the
    ``conversations.yml`` next to it): every labelled id must be a conversation of the set."""
    path = Path(path)
    try:
        labels = LabelSet.model_validate(_read(path))
    except ValidationError as exc:
        raise FormatError(str(path), _problems(exc)) from None
    if quality_set is None:
        quality_set = load_quality_set(path.with_name("conversations.yml"))
    known = set(quality_set.ids)
    strangers = [i for i in labels.labels if i not in known]
    if strangers:
        raise FormatError(str(path), f"labels for conversation(s) not in the set: {', '.join(strangers)}")
    return labels


def transcript(conversation: QualityConversation) -> list[TranscriptEntry]:
    """The conversation as transcript lines, a minute apart, for ``score_conversation``."""
    return [
        TranscriptEntry(seq=n, sender=turn.sender, text=turn.text, timestamp=60.0 * n)
        for n, turn in enumerate(conversation.turns, start=1)
    ]
