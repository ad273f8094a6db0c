"""Alembic migrations for Concierge's database, shipped inside the ``bot`` package.

The application migrates itself: ``await EventStore.migrate()`` runs
``upgrade head`` on the store's own engine (see :func:`upgrade`). Operators can use the
CLI with the bundled ``alembic.ini`` (usage at its top).

Adding a table or column (the schema is owned by revisions, never ``create_all``):

1. Change or add the typed models (``bot/store/tables.py``, or your module's own
   ``MetaData``, listed in ``METADATA_SOURCES`` in ``env.py`` so autogenerate sees it).
2. Write the next revision, numbered after the last one in ``versions/``::

       alembic -c bot/migrations/alembic.ini -x url=sqlite:///tmp/dev.db upgrade head
       alembic -c bot/migrations/alembic.ini -x url=sqlite:///tmp/dev.db \\
           revision --autogenerate -m "add handoff tickets" --rev-id 0002

   This creates ``versions/0002_add_handoff_tickets.py`` with ``down_revision = "0001"``.
   Read it, keep explicit ``op.*`` calls (no imports of the live models), and write a
   real ``downgrade()``.
3. ``tests/bot/test_migrations.py`` runs every revision up and down on SQLite and
   PostgreSQL and checks the migrated schema matches the models.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

MIGRATIONS_DIR = Path(__file__).resolve().parent

# pg_advisory_xact_lock key serialising concurrent migrations ("CONCIERG" as bytes).
MIGRATION_LOCK_KEY = 0x434F4E4349455247


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` built in code: our script location, file naming and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("path_separator", "os")
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        # ConfigParser interpolation: URL-encoded passwords contain '%'.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database behind a sync ``connection`` (use via ``AsyncConnection.run_sync``)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    """Downgrade the database behind ``connection`` to ``revision`` (``base``: no tables)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def head_revision() -> str:
    """The newest revision shipped with this code (what ``migrate()`` upgrades to)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions under {MIGRATIONS_DIR / 'versions'}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None before the first migration."""
    return MigrationContext.configure(connection).get_current_revision()
