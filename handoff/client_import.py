"""Import client profiles from CSV (the demo's ``data/clients.csv`` or a salon system's export).

Columns (all but one name optional)::

    external_id, first_name, last_name, phones, email, telegram, instagram, messenger,
    language, birthday, membership, tier_override, concierge, home_location,
    preferences, notes, visits

``phones`` holds one or more numbers separated by ``;`` or ``/``, written any way
("601-234-567", "0048 601 234 567"); ``preferences`` is ``key=value; key=value``;
``visits`` is ``date|category|service|amount|location|staff`` entries separated by ``;``.
Every row is validated before anything is written, so a bad file changes nothing and
the error names its line. Rows are upserts: importing the same file twice changes
nothing, and a row whose identities belong to a known client updates (or merges into)
that client.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bot.errors import FormatError
from handoff.clients import ClientStore, ClientUpsert, Visit
from handoff.identity import DEFAULT_REGION, Identity, InvalidIdentity

_SPLIT_PHONES = re.compile(r"[;/]|\s{2,}")


class ImportReport(BaseModel):
    """What an import did: rows read, clients they resolved to, rows that joined another row's client."""

    rows: int
    clients: int
    merged_rows: int
    client_ids: list[str]


def _text(row: dict[str, str], name: str) -> str | None:
    value = (row.get(name) or "").strip()
    return value or None


def _preferences(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    prefs: dict[str, str] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"preference {part.strip()!r} is not key=value")
        prefs[key.strip()] = value.strip()
    return prefs


def _visits(raw: str | None) -> list[Visit]:
    if not raw:
        return []
    visits = []
    for entry in raw.split(";"):
        if not entry.strip():
            continue
        fields = [f.strip() for f in entry.split("|")]
        if len(fields) < 4:
            raise ValueError(f"visit {entry.strip()!r} needs date|category|service|amount[|location|staff]")
        fields += [""] * (6 - len(fields))
        visits.append(
            Visit(
                visited_on=date.fromisoformat(fields[0]),
                category=fields[1],
                service=fields[2],
                amount=float(fields[3].replace(",", ".")),
                location=fields[4] or None,
                staff=fields[5] or None,
            )
        )
    return visits


def parse_row(row: dict[str, str], region: str = DEFAULT_REGION) -> ClientUpsert:
    """One CSV row as an upsert; raises ``ValueError`` (or a subclass) on bad content."""
    identities: list[Identity] = []
    for phone in _SPLIT_PHONES.split(_text(row, "phones") or _text(row, "phone") or ""):
        if phone.strip():
            identities.append(Identity.of("phone", phone, region))
    for kind in ("email", "telegram", "instagram", "messenger"):
        value = _text(row, kind)
        if value:
            identities.append(Identity.of(kind, value, region))
    birthday = _text(row, "birthday")
    notes = _text(row, "notes")
    return ClientUpsert.model_validate(
        {
            "external_id": _text(row, "external_id"),
            "first_name": _text(row, "first_name"),
            "last_name": _text(row, "last_name"),
            "language": _text(row, "language"),
            "birthday": date.fromisoformat(birthday) if birthday else None,
            "membership": _text(row, "membership"),
            "tier_override": _text(row, "tier_override"),
            "concierge_agent_id": _text(row, "concierge"),
            "home_location": _text(row, "home_location"),
            "preferences": _preferences(_text(row, "preferences")),
            "identities": identities,
            "visits": _visits(_text(row, "visits")),
            "notes": [notes] if notes else [],
        }
    )


def read_clients_csv(path: Path, region: str = DEFAULT_REGION) -> list[ClientUpsert]:
    """Parse and validate every row; :class:`~bot.errors.FormatError` names the first bad line."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_clients_csv(handle, str(path), region)


def parse_clients_csv(lines: Iterable[str], source: str, region: str = DEFAULT_REGION) -> list[ClientUpsert]:
    """Parse and validate the rows of a clients CSV read from ``lines`` (named ``source`` in errors)."""
    upserts: list[ClientUpsert] = []
    reader = csv.DictReader(lines)
    if not reader.fieldnames or "first_name" not in reader.fieldnames:
        raise FormatError(source, "missing header with a first_name column", line=1)
    for row in reader:
        try:
            upsert = parse_row(row, region)
        except (ValueError, InvalidIdentity, ValidationError) as exc:
            raise FormatError(source, str(exc).splitlines()[0], line=reader.line_num) from None
        if not upsert.identities and not upsert.external_id:
            raise FormatError(source, "row has neither an identity nor an external_id", line=reader.line_num)
        upserts.append(upsert)
    return upserts


async def import_clients_csv(path: Path, store: ClientStore, region: str = DEFAULT_REGION) -> ImportReport:
    """Upsert every row of a clients CSV into ``store`` (validated as a whole first)."""
    return await import_upserts(read_clients_csv(path, region), store)


async def import_upserts(upserts: Sequence[ClientUpsert], store: ClientStore) -> ImportReport:
    """Upsert already validated rows in order, reporting the clients they resolved to."""
    ids: list[str] = []
    for upsert in upserts:
        profile = await store.upsert(upsert)
        if profile.id not in ids:
            ids.append(profile.id)
    # a later row may merge two earlier clients: report the survivors
    live = []
    for client_id in ids:
        survivor = (await store.get(client_id)).id
        if survivor not in live:
            live.append(survivor)
    return ImportReport(
        rows=len(upserts), clients=len(live), merged_rows=len(upserts) - len(live), client_ids=live
    )
