"""EntitySynonymMapper: canonical values, case-insensitively, marked in ``processors``."""

from __future__ import annotations

from bot.events import EntityValue
from bot.nlu.entities.synonyms import EntitySynonymMapper


def test_maps_values_case_insensitively() -> None:
    mapper = EntitySynonymMapper({"credit card": "credit", "Emblm": "emblem"})
    out = mapper.apply(
        [
            EntityValue(entity="account_type", value="Credit Card", start=0, end=11),
            EntityValue(entity="credit_card", value="EMBLM", start=12, end=17),
            EntityValue(entity="credit_card", value="iron bank", start=18, end=27),
            EntityValue(entity="number", value=3, start=28, end=29),
        ]
    )
    assert [e.value for e in out] == ["credit", "emblem", "iron bank", 3]
    assert out[0].model_extra == {"processors": ["EntitySynonymMapper"]}
    assert out[2].model_extra == {}
    assert out[0].model_dump()["processors"] == ["EntitySynonymMapper"]


def test_canonical_value_is_not_marked_as_mapped() -> None:
    out = EntitySynonymMapper({"emblem": "emblem"}).apply([EntityValue(entity="c", value="emblem")])
    assert "processors" not in out[0].model_dump()
