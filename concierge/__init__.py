"""The composition root: the one package that knows every other one.

:mod:`concierge.compose` builds the object graph (store, engine, actions, knowledge base,
handoff) from settings; :mod:`concierge.cli` is the ``concierge`` command and
:mod:`concierge.serve` the factory uvicorn's worker processes call. Nothing below imports
this package (tests/test_import_graph.py).
"""
