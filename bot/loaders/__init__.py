"""Rasa 3 project files (YAML, formats 2.0-3.1) -> Concierge's data models.

Every loader raises :class:`bot.errors.FormatError` naming the file, the line and what
is wrong; things Rasa would only warn about are returned as human-readable warnings.
"""

from bot.loaders.annotations import parse_annotated
from bot.loaders.config import load_config
from bot.loaders.domain import load_domain
from bot.loaders.endpoints import EndpointConfig, Endpoints, load_endpoints
from bot.loaders.nlu import load_nlu
from bot.loaders.project import Project, load_project
from bot.loaders.stories import load_stories

__all__ = [
    "EndpointConfig",
    "Endpoints",
    "Project",
    "load_config",
    "load_domain",
    "load_endpoints",
    "load_nlu",
    "load_project",
    "load_stories",
    "parse_annotated",
]
