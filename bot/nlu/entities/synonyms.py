"""Rasa's EntitySynonymMapper: replace an extracted value by its canonical form."""

from __future__ import annotations

from bot.events import EntityValue


class EntitySynonymMapper:
    """Maps values through the ``synonym:`` table, case-insensitively (variants are stored lower-cased)."""

    def __init__(self, synonyms: dict[str, str]) -> None:
        self.synonyms = {variant.lower(): canonical for variant, canonical in synonyms.items()}

    def apply(self, entities: list[EntityValue]) -> list[EntityValue]:
        """The entities with string values replaced where the table knows them.

        Rasa marks a mapped entity by appending ``EntitySynonymMapper`` to its
        ``processors``; we do the same so the dialogue layer can tell.
        """
        out: list[EntityValue] = []
        for entity in entities:
            value = entity.value
            canonical = self.synonyms.get(value.lower()) if isinstance(value, str) else None
            if canonical is not None and canonical != value:
                extra = entity.model_extra or {}
                processors = [*extra.get("processors", []), "EntitySynonymMapper"]
                entity = entity.model_copy(update={"value": canonical, "processors": processors})
            out.append(entity)
        return out
