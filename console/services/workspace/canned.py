"""Canned replies: short texts agents insert into the reply box, in the client's language.

They live in the project's ``data/canned_replies.yml`` (see that file for the format) and
are checked when loaded: every reply has English text, ids are unique, and only known
placeholders are used, so a typo is a start-up error rather than a client seeing
``{frist_name}``. Placeholders without a value are left out and the text tidied.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot.errors import FormatError

PLACEHOLDERS = ("first_name", "last_name", "agent_name", "studio")
DEFAULT_LANGUAGE = "en"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class CannedReply(BaseModel):
    """One canned reply: id, title and its text per language (English required)."""

    id: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    title: str = Field(min_length=1, max_length=120)
    text: dict[str, str]

    @field_validator("text")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        if DEFAULT_LANGUAGE not in value:
            raise ValueError(f"needs an {DEFAULT_LANGUAGE!r} text")
        for language, text in value.items():
            try:
                unknown = _placeholders(text) - set(PLACEHOLDERS)
            except ValueError as exc:
                raise ValueError(f"{language}: {exc}") from None
            if unknown:
                raise ValueError(
                    f"{language}: unknown placeholder(s) {', '.join(sorted(unknown))}; "
                    f"use {', '.join(PLACEHOLDERS)}"
                )
        return value

    def text_for(self, language: str | None) -> tuple[str, str]:
        """The text in ``language`` (English when there is none) and the language used."""
        if language and language in self.text:
            return self.text[language], language
        return self.text[DEFAULT_LANGUAGE], DEFAULT_LANGUAGE


class CannedReplies(BaseModel):
    """The canned replies file."""

    replies: list[CannedReply] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> CannedReplies:
        ids = [r.id for r in self.replies]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate canned reply id(s): {', '.join(dupes)}")
        return self

    def get(self, reply_id: str) -> CannedReply | None:
        """The reply with this id, if any."""
        return next((r for r in self.replies if r.id == reply_id), None)


class RenderedReply(BaseModel):
    """A canned reply filled in for one conversation, as the console shows it."""

    id: str
    title: str
    language: str
    text: str


def fill(template: str, values: dict[str, str | None]) -> str:
    """``template`` with placeholders replaced; missing values are dropped and spacing tidied."""
    known = {name: (values.get(name) or "").strip() for name in PLACEHOLDERS}
    text = template.format_map(known)
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r",([.!?])", r"\1", text)
    text = re.sub(r"^[,;:]\s*", "", text.strip())
    return text[:1].upper() + text[1:] if text else text


def render(
    replies: CannedReplies, language: str | None, values: dict[str, str | None]
) -> list[RenderedReply]:
    """Every reply in ``language`` (English where missing), filled with ``values``."""
    out = []
    for reply in replies.replies:
        template, used = reply.text_for(language)
        out.append(RenderedReply(id=reply.id, title=reply.title, language=used, text=fill(template, values)))
    return out


def load_canned_replies(path: Path) -> CannedReplies:
    """Read and check a canned replies file; a missing file means no canned replies."""
    path = Path(path)
    if not path.is_file():
        return CannedReplies()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return CannedReplies.model_validate(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(str(path), f"invalid YAML: {exc}", line=mark.line + 1 if mark else None) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise FormatError(str(path), problems) from None
