"""Alembic's environment for the gradebook: always run by grader.instructor.gradebook.store on a connection it opened.

There is no alembic.ini: the store builds the configuration, puts its open
connection in ``config.attributes["connection"]`` and runs ``upgrade``.
A developer makes a new revision the same way: grader.instructor.gradebook.store.new_revision.
"""
from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from grader.instructor.gradebook.models import Base, UTCDateTime


def render_item(kind: str, item: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Write the models' UTC type as the plain type it stores: a migration never imports the models it predates."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the gradebook's migrations run through grader.instructor.gradebook.store, on a connection it opened")
# render_as_batch: SQLite alters a table by copying it, which Alembic's batch mode does; PostgreSQL alters in place.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True,
                  render_item=render_item)
with context.begin_transaction():
    context.run_migrations()
