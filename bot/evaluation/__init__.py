"""Offline evaluation of a trained bot (``concierge test``): NLU and story reports."""
