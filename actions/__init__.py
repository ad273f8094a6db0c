"""Everything that runs an action: the ``Action`` protocol (:mod:`actions.base`), Rasa's
default actions, forms and slot extraction, the :class:`~actions.registry.ActionRegistry`
that resolves names, the rasa_sdk-compatible API for in-process custom actions
(:mod:`actions.sdk`) and remote actions on a rasa_sdk action server (:mod:`actions.remote`).

Importing this package imports nothing else, so an actions file can import
``actions.sdk`` cheaply.
"""
