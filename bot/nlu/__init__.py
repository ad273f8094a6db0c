"""Natural-language understanding: text -> intent, entities, language (Rasa's ``parse_data``).

Entry point: :class:`NLUPipeline` (``train``, ``parse``, ``parse_batch``, ``save``, ``load``);
:mod:`bot.nlu.spec` says how ``config.yml``'s Rasa component names map onto the components.
"""

from bot.nlu.pipeline import NLUPipeline

__all__ = ["NLUPipeline"]
