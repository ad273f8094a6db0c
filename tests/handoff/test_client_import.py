"""Importing the demo clients CSV (and broken ones) into real databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FormatError
from handoff.client_import import import_clients_csv, read_clients_csv
from handoff.clients import ClientStore
from handoff.identity import Identity

HEADER = "external_id,first_name,last_name,phones,email,telegram,visits\n"


async def test_demo_clients_import_with_tiers_concierges_and_a_merged_duplicate(
    client_store: ClientStore, repo_dir: Path
) -> None:
    path = repo_dir / "data" / "clients.csv"
    report = await import_clients_csv(path, client_store)
    assert report.rows == 31
    assert report.clients == 30 and report.merged_rows == 1

    profiles = [await client_store.get(i) for i in report.client_ids]
    vips = sorted((p.first_name, p.concierge_agent_id) for p in profiles if p.tier == "VIP")
    assert vips == [
        ("Aleksandra", "anna.kowalska"),
        ("James", "piotr.wisniewski"),
        ("Magdalena", "marta.nowak"),
        ("Oksana", "olena.shevchenko"),
    ]
    tiers = [p.tier for p in profiles]
    assert tiers.count("Premium") >= 4 and tiers.count("Standard") >= 15

    # two numbers in one cell, one of them a Warsaw landline, both normalised
    ola = await client_store.find(Identity.of("phone", "22 598 41 07"))
    assert ola is not None and ola.first_name == "Aleksandra"
    assert {i.value for i in ola.identities if i.kind == "phone"} == {"+48601234567", "+48225984107"}
    assert ola.preferences["drink"] == "flat white with oat milk"
    assert {v.service for v in ola.recent_visits[:2]} == {"Hybrid manicure + art", "Brow lamination"}
    assert ola.recent_visits[2].visited_on < ola.recent_visits[1].visited_on  # newest first

    # the old-system row shares Kasia's e-mail (in capitals): one client, both histories
    kasia = await client_store.find(Identity.of("email", "kasia.lew@example.pl"))
    assert kasia is not None and kasia.external_id == "MH-0005"
    assert {str(i) for i in kasia.identities} >= {
        "phone:+48502118907",
        "phone:+48503662190",
        "instagram:kasia.lew.nails",
    }
    assert kasia.visit_count == 3
    assert kasia.preferences["drink"] == "espresso"  # the first profile's answer wins

    # James is VIP by a manual override; Piotr K. is Premium by 15 visits
    james = await client_store.find(Identity.of("messenger", "4791203348812"))
    assert james is not None and (james.tier, james.tier_reason) == ("VIP", "manual override")
    piotr = await client_store.find(Identity.of("phone", "604 552 781"))
    assert piotr is not None and (piotr.tier, piotr.visits_12m) == ("Premium", 15)


async def test_importing_twice_changes_nothing(client_store: ClientStore, repo_dir: Path) -> None:
    path = repo_dir / "data" / "clients.csv"
    first = await import_clients_csv(path, client_store)
    before = {i: (await client_store.get(i)).visit_count for i in first.client_ids}
    second = await import_clients_csv(path, client_store)
    assert sorted(second.client_ids) == sorted(first.client_ids)
    assert {i: (await client_store.get(i)).visit_count for i in second.client_ids} == before


async def test_a_bad_row_names_its_line_and_nothing_is_written(
    client_store: ClientStore, tmp_path: Path
) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(
        HEADER
        + "A1,Ola,W,601234567,ola@example.pl,,2026-01-02|nails|Manicure|100\n"
        + "A2,Ewa,K,call me maybe,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(FormatError) as caught:
        await import_clients_csv(path, client_store)
    assert caught.value.line == 3 and "call me maybe" in str(caught.value)
    assert await client_store.list_ids() == []


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("A1,Ola,W,601234567,,,2026-13-02|nails|x|1", "month"),
        ("A1,Ola,W,601234567,,,2026-01-02|nails", "needs date|category|service|amount"),
        (",Ola,W,,,,", "neither an identity nor an external_id"),
    ],
)
def test_row_errors(tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=problem):
        read_clients_csv(path)


def test_a_file_without_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nOla,601234567\n", encoding="utf-8")
    with pytest.raises(FormatError, match="first_name"):
        read_clients_csv(path)
