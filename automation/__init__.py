"""Automation rules: triggers on the event log, conditions on what the read models know,
actions through the services that own them (handoff moves through ``HandoffService``).

It sits above ``bot`` and ``handoff`` and below ``console`` (tests/test_import_graph.py);
see docs/automation.md.
"""
