"""The database connection: transactions, retries, and the change sequence.

`Database.write(fn)` runs `fn(tx)` in one transaction and retries the whole of it
when another writer got in the way (a unique address or MAC taken meanwhile, a
serialization failure, SQLite busy), so callers write plain code and concurrency
stays safe. On SQLite, writes start with BEGIN IMMEDIATE (no lock upgrades that
deadlock) and one process serializes its own writers with a lock; WAL lets reads
run beside a write. Every write records its changes; the counter row is bumped
last, so commit order and sequence order agree (an agent that has seen change N
has seen everything before it).
"""

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import create_engine, event, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from . import schema

log = logging.getLogger("neutrino.db")

ATTEMPTS = 20


class Retry(Exception):
    """Raised inside a write when it lost a race; the transaction is run again."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Tx:
    """One write transaction: the connection and the changes it has made."""

    conn: Connection
    now: datetime = field(default_factory=utcnow)
    changes: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    serialized: bool = False  # no other writer runs at the same time (SQLite)

    def changed(self, resource: str, resource_id: str, action: str, project_id: str, rev: int):
        self.changes.append((resource, resource_id, action, project_id or "", rev))

    def execute(self, *args, **kwargs):
        return self.conn.execute(*args, **kwargs)

    def lock(self, name: str) -> None:
        """Queue behind other writers taking the same named lock, until commit.

        A PostgreSQL transaction-scoped advisory lock; SQLite has one writer anyway."""
        if not self.serialized:
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def _is_retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True
    text = str(error.orig).lower()
    return any(
        word in text for word in ("database is locked", "deadlock", "could not serialize", "busy")
    )


class Database:
    """A SQLAlchemy engine for neutrino's schema, SQLite or PostgreSQL."""

    def __init__(self, url: str, sqlite_synchronous: str = "NORMAL"):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            self.engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
            )
            self._prepare_sqlite(self.engine, sqlite_synchronous)
        else:
            self.engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)

    @staticmethod
    def _prepare_sqlite(engine: Engine, synchronous: str) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            mode = conn.info.get("begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

    def read(self, fn: Callable[[Connection], object]):
        """Run `fn(conn)` in a read transaction (a consistent snapshot)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.info["begin"] = "DEFERRED"
            with conn.begin():
                return fn(conn)

    def write(self, fn: Callable[[Tx], object]):
        """Run `fn(tx)` in one transaction, again from the start if it lost a race."""
        for attempt in range(ATTEMPTS):
            try:
                if self._write_lock is not None:
                    with self._write_lock:
                        return self._write_once(fn)
                return self._write_once(fn)
            except Retry:
                pass
            except DBAPIError as e:
                if not _is_retryable(e) or attempt == ATTEMPTS - 1:
                    raise
                log.debug("write retried after %s", e.orig)
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise Retry("gave up after too many conflicting writers")

    def _write_once(self, fn):
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.info["begin"] = "IMMEDIATE"
            with conn.begin():
                tx = Tx(conn, serialized=self.is_sqlite)
                result = fn(tx)
                if tx.changes:
                    self._record_changes(tx)
                return result

    @staticmethod
    def _record_changes(tx: Tx) -> None:
        n = len(tx.changes)
        last = tx.execute(
            update(schema.change_counter)
            .where(schema.change_counter.c.id == 1)
            .values(seq=schema.change_counter.c.seq + n)
            .returning(schema.change_counter.c.seq)
        ).scalar_one()
        tx.execute(
            insert(schema.changes),
            [
                {
                    "seq": last - n + 1 + i,
                    "resource": resource,
                    "resource_id": rid,
                    "action": action,
                    "project_id": project,
                    "revision_number": rev,
                    "at": tx.now,
                }
                for i, (resource, rid, action, project, rev) in enumerate(tx.changes)
            ],
        )

    def last_change(self) -> int:
        return self.read(
            lambda c: c.execute(
                select(schema.change_counter.c.seq).where(schema.change_counter.c.id == 1)
            ).scalar_one()
        )

    def healthy(self) -> bool:
        try:
            self.last_change()
            return True
        except OperationalError:
            return False
