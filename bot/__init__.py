"""Concierge dialogue core: Rasa-3-compatible NLU, dialogue policies, events and channels."""
