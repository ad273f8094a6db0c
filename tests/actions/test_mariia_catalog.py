"""The demo bot's price list, studios and policies (actions/mariia_catalog.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from actions.mariia_catalog import STUDIO_TZ, Catalog, cancellation_fee, find_reference


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.mark.parametrize(
    ("written", "service"),
    [
        ("gel nails", "manicure_gel"),
        ("I'd like a gel pedicure please", "pedicure_gel"),  # not plain "pedicure"
        ("Hydra Facial", "hydrafacial"),
        ("manicure hybrydowy", "manicure_gel"),
        ("манікюр з гель-лаком", "manicure_gel"),
        ("balayge", "balayage"),  # a common misspelling
        ("pack of 10", "personal_training_pack"),
    ],
)
def test_services_are_found_by_what_clients_write(catalog: Catalog, written: str, service: str) -> None:
    found = catalog.find_service(written)
    assert found is not None and found.key == service


@pytest.mark.parametrize(
    ("written", "location"),
    [
        ("na Mokotowie", "warsaw_mokotow"),
        ("the studio on Mokotowska street", "warsaw_srodmiescie"),  # a street in Śródmieście
        ("KRAKOW", "krakow_kazimierz"),
        ("у Кракові", "krakow_kazimierz"),
        ("w Śródmieściu", "warsaw_srodmiescie"),
    ],
)
def test_studios_are_found_by_what_clients_write(catalog: Catalog, written: str, location: str) -> None:
    found = catalog.find_location(written)
    assert found is not None and found.key == location


def test_a_general_word_names_a_category_not_a_service(catalog: Catalog) -> None:
    assert catalog.find_service("massage") is None
    category = catalog.find_category("massage")
    assert category is not None and category.key == "massage"
    assert {s.key for s in catalog.in_category("massage")} >= {"massage_relaxing", "massage_lymphatic"}
    assert catalog.find_service("Gdańsk") is None and catalog.find_location("Gdańsk") is None


def test_price_list_carries_the_salon_policies(catalog: Catalog) -> None:
    balayage, manicure = catalog.services["balayage"], catalog.services["manicure_gel"]
    assert balayage.needs_deposit and balayage.deposit_pln == 225  # 30% of 750 PLN
    assert not manicure.needs_deposit and manicure.deposit_pln == 0
    assert catalog.services["lash_lift"].patch_test and not manicure.patch_test
    training = catalog.services["personal_training"]
    assert training.offered_at("warsaw_mokotow") and not training.offered_at("krakow_kazimierz")
    assert not catalog.services["personal_training_pack"].bookable


def test_opening_hours_follow_the_weekday(catalog: Catalog) -> None:
    saturday = datetime(2030, 6, 15, 12, tzinfo=STUDIO_TZ)
    sunday = saturday + timedelta(days=1)
    srodmiescie = catalog.locations["warsaw_srodmiescie"]
    assert srodmiescie.hours_on(saturday) is not None
    assert srodmiescie.hours_on(sunday) is None  # closed on Sundays
    opens, closes = catalog.locations["krakow_kazimierz"].hours_on(sunday) or (None, None)
    assert (str(opens), str(closes)) == ("10:00:00", "16:00:00")


def test_cancellation_is_free_up_to_24_hours_before() -> None:
    now = datetime(2030, 6, 10, 9, tzinfo=STUDIO_TZ)
    assert cancellation_fee(320, now + timedelta(hours=24), now) == 0
    assert cancellation_fee(320, now + timedelta(hours=23, minutes=59), now) == 160
    assert cancellation_fee(190, now + timedelta(hours=2), now) == 95


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("please cancel MH-10234", "MH-10234"),
        ("mh 10234", "MH-10234"),
        ("ref mh10234.", "MH-10234"),
        ("1234", None),
    ],
)
def test_booking_references_are_read_in_any_spelling(text: str, reference: str | None) -> None:
    assert find_reference(text) == reference
