"""Entity extractors: regex/lookup, a trainable CRF, a local Duckling, synonyms, overlap resolution."""

from bot.nlu.entities.crf import CRFEntityExtractor
from bot.nlu.entities.duckling import DucklingExtractor
from bot.nlu.entities.merge import resolve_overlaps
from bot.nlu.entities.regex import RegexEntityExtractor
from bot.nlu.entities.synonyms import EntitySynonymMapper

__all__ = [
    "CRFEntityExtractor",
    "DucklingExtractor",
    "EntitySynonymMapper",
    "RegexEntityExtractor",
    "resolve_overlaps",
]
