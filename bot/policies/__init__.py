"""Next-action prediction with Rasa 3's semantics: rules, memoized stories, an ML policy.

:class:`PolicyEnsemble` trains the policies ``config.yml`` names on a project's stories
and rules (:mod:`bot.policies.generator` expands them into training conversations)
and predicts the next action for a :class:`bot.tracker.Tracker`.
"""

from bot.policies.ensemble import PolicyEnsemble, PolicyPrediction

__all__ = ["PolicyEnsemble", "PolicyPrediction"]
