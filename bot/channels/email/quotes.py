"""Cut what a client did not write from an e-mail body: quoted history and signatures.

Mail apps append the whole thread below a reply. The bot must read only the new text,
or every reply would repeat (and re-trigger) what was said before. What is cut:

- ``>``-quoted lines, wherever they are (inline answers between quotes are kept);
- everything from a reply attribution line on: "On <date>, <name> wrote:", Polish
  "W dniu <date> <name> napisał(a):" / "<date> <name> pisze:", Ukrainian and Russian
  "<date> <name> пише:" / "написав(ла):" / "написал(а):", and the German, French and
  Spanish equivalents; the line must carry a digit or an address, so "my sister wrote:"
  in a client's own text is not mistaken for one;
- everything from an Outlook header block on ("From:" followed by "Sent:"/"Date:"/"To:"/
  "Subject:" lines, in English, Polish, Ukrainian, Russian, German or French), and the
  "-----Original Message-----" or underscore separator above it;
- a signature: everything from a ``-- `` line (RFC 3676; also a bare ``--``), and common
  mobile footers ("Sent from my iPhone", "Wysłane z iPhone'a", "Надіслано з iPhone",
  "Get Outlook for Android", ...) at the end of the text.

Forwarded messages ("---------- Forwarded message ---------") are kept: a client who
forwards something wants us to read it. When cutting would leave nothing (a message
that is all quote), the text is returned with only the ``>`` lines removed, or unchanged.
"""

from __future__ import annotations

import re

__all__ = ["strip_reply"]

_VERBS = (
    r"wrote|writes|napisał\(a\)|napisał|napisała|pisze|пише|пишет|написав\(ла\)|написав|написала|"
    r"написал\(а\)|написал|написала|писал\(а\)|schrieb|a écrit|escribió|ha scritto"
)
_ATTRIBUTION = re.compile(rf"^.{{0,280}}\b(?:{_VERBS})\s*:\s*$", re.IGNORECASE)
# A real attribution names a date or an address; plain prose ("my sister wrote:") does not.
_ATTRIBUTION_EVIDENCE = re.compile(r"\d|@")
_ATTRIBUTION_START = re.compile(r"^(?:On|W dniu|Dnia|Am|Le|El)\b", re.IGNORECASE)

_HEADER_FROM = re.compile(r"^\s*\*{0,2}(?:From|Od|Від|От|Von|De)\s*:\*{0,2}\s*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*{0,2}(?:Sent|Date|To|Cc|Subject|Wysłano|Wysłane|Data|Do|DW|Temat|Надіслано|Відправлено|"
    r"Дата|Кому|Копія|Тема|Отправлено|Копия|Gesendet|Datum|An|Betreff|Envoyé|Date|À|Objet)\s*:",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Oryginalna wiadomość|Wiadomość oryginalna|"
    r"Оригінальне повідомлення|Вихідне повідомлення|Исходное сообщение|Ursprüngliche Nachricht|"
    r"Message d'origine)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"^\s*(?:-{2,}\s*(?:Forwarded message|Forwarded Message|Wiadomość przekazana|Przekazana wiadomość|"
    r"Переслане повідомлення|Пересланное сообщение|Weitergeleitete Nachricht|Message transféré)\s*-{2,}|"
    r"Begin forwarded message:|Początek przekazywanej wiadomości:)\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_SIGNATURE_DASHES = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(?:Sent from (?:my )?\S.{0,50}|Sent via \S.{0,50}|Get Outlook for \S.{0,30}|"
    r"Wysłane z \S.{0,50}|Wysłano z \S.{0,50}|Pobierz Outlook dla \S.{0,30}|"
    r"Надіслано з \S.{0,50}|Відправлено з \S.{0,50}|Отправлено (?:с|из) \S.{0,50}|"
    r"Envoyé de mon \S.{0,50}|Von meinem \S.{0,50} gesendet)\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(?:[-_*=]\s*){3,}$")


def strip_reply(text: str) -> str:
    """The part of ``text`` the client wrote now: no quoted history, no signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    kept = [line for line in lines[:cut] if not _is_quoted(line)]
    kept = _without_signature(kept)
    result = _trim("\n".join(kept))
    if result:
        return result
    unquoted = _trim("\n".join(line for line in lines if not _is_quoted(line)))
    return unquoted or _trim(text)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _history_start(lines: list[str]) -> int:
    """Index of the first line of quoted history, or ``len(lines)`` when there is none."""
    for index, line in enumerate(lines):
        if _is_quoted(line):
            continue
        if _FORWARDED.match(line):
            return len(lines)  # what follows is the forwarded mail: the client wants it read
        if _is_attribution(lines, index):
            return _include_separator_above(lines, index)
        if _HEADER_FROM.match(line) and _header_block_follows(lines, index):
            return _include_separator_above(lines, index)
        if _ORIGINAL.match(line):
            return index
    return len(lines)


def _is_attribution(lines: list[str], index: int) -> bool:
    """``lines[index]`` (or it joined with the next line, as Gmail wraps it) is "... wrote:"."""
    line = lines[index].strip()
    if not line:
        return False
    candidates = [line]
    if index + 1 < len(lines) and lines[index + 1].strip():
        candidates.append(f"{line} {lines[index + 1].strip()}")
    for candidate in candidates:
        if _ATTRIBUTION.match(candidate) and (
            _ATTRIBUTION_EVIDENCE.search(candidate) or _ATTRIBUTION_START.match(candidate)
        ):
            return True
    return False


def _header_block_follows(lines: list[str], index: int) -> bool:
    """At least two header lines (Sent/Date/To/Subject...) within the next five lines."""
    following = [line for line in lines[index + 1 : index + 6] if line.strip()]
    return sum(1 for line in following if _HEADER_OTHER.match(line)) >= 2


def _include_separator_above(lines: list[str], index: int) -> int:
    """Move the cut up over blank lines and one separator (underscores, "Original Message", rule)."""
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    if above >= 0 and any(p.match(lines[above]) for p in (_ORIGINAL, _UNDERSCORES, _RULE)):
        return above
    return index


def _without_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _SIGNATURE_DASHES.match(line):
            lines = lines[:index]
            break
    while True:
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        if lines and (_MOBILE.match(lines[-1]) or _RULE.match(lines[-1])):
            lines = lines[:-1]
            continue
        return lines


def _trim(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().split("\n")).strip()
