"""Bring a database to the newest schema with neutrino's Alembic migrations.

`upgrade(database)` is run by `neutrino server` at start (and by `neutrino db
upgrade`). On PostgreSQL an advisory lock makes several servers starting at once
take turns; on SQLite the write lock of the file does the same.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import insert, select, text

from . import schema
from .database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_ID = 0x6E657574  # "neut"


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database) -> None:
    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn.info["begin"] = "IMMEDIATE"
        else:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
            with conn.begin():
                counter = schema.change_counter
                if conn.execute(select(counter.c.id)).first() is None:
                    conn.execute(insert(counter).values(id=1, seq=0))
        finally:
            if not db.is_sqlite:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
                conn.commit()
