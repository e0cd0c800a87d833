"""The lab's own PostgreSQL database, for a lab of several API servers: made by `up`, dropped by `down`.

`lab up --servers N` (N >= 2, or `--haproxy`) runs its servers on one PostgreSQL
database instead of SQLite in the lab dir. The database is the lab's alone: its
name carries the lab's prefix and a random part (`neutrino_lab_nt_3f9a1c2e`), it is
recorded in lab.json before it is made (so `down` finds it after a crash at any
point) and `down` drops it after the servers are stopped.

The cluster is reached through an admin URL naming a role that may create databases:
by default the one `bash scripts/postgres start` makes (role neutrino on
127.0.0.1:5432); `--postgres URL` or $NEUTRINO_LAB_POSTGRES name another.
"""

import contextlib
import re
import secrets
import time
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from .topology import DEFAULT_POSTGRES, LabError

_NAME = re.compile(r"^neutrino_lab_[a-z0-9_]+$")


class Unreachable(LabError):
    """The PostgreSQL cluster did not accept a connection."""


def check_admin_url(url: str) -> None:
    """LabError naming the value unless `url` is a PostgreSQL URL."""
    _url(url)


def database_name(prefix: str) -> str:
    """A fresh name for the lab's database: its prefix (letters, digits, _) and 8 random hex."""
    tag = re.sub(r"[^a-z0-9]", "_", prefix.lower()).strip("_")
    return f"neutrino_lab_{tag}_{secrets.token_hex(4)}"


def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the admin URL's cluster, as the same role."""
    return _url(admin_url).set(database=name).render_as_string(hide_password=False)


def create(url: str) -> None:
    """Create the (empty) database `url` names; LabError saying how to start PostgreSQL."""
    target = _url(url)
    with _admin(target) as conn:
        conn.execute(text(f'CREATE DATABASE "{_checked(target.database)}"'))


def drop(url: str) -> bool:
    """Drop the lab's database (also with connections left); whether the cluster answered.

    Retried a few times: an autovacuum worker the role may not end can hold it a moment."""
    target = _url(url)
    name = _checked(target.database)
    for attempt in range(10):
        try:
            with _admin(target) as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return True
        except Unreachable:
            return False
        except LabError:
            if attempt == 9:
                return False
            time.sleep(0.5)
    return False


def _url(url: str):
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LabError(
            f"--postgres {url!r}: not a database URL (e.g. {DEFAULT_POSTGRES})"
        ) from None
    if not parsed.drivername.startswith("postgresql"):
        raise LabError(f"--postgres {url!r}: must be a postgresql:// URL (e.g. {DEFAULT_POSTGRES})")
    return parsed


def _checked(name: str | None) -> str:
    if not name or not _NAME.match(name):
        raise LabError(f"{name!r}: not a lab database name (neutrino_lab_<letters, digits, _>)")
    return name


@contextlib.contextmanager
def _admin(target) -> Iterator[Connection]:
    """A connection to the cluster's `postgres` database in autocommit (CREATE/DROP DATABASE)."""
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    where = target.set(database="postgres").render_as_string(hide_password=True)
    try:
        conn = engine.connect()
    except DBAPIError as e:
        engine.dispose()
        raise Unreachable(
            f"cannot reach PostgreSQL at {where}: {_one_line(e)} "
            "(start it with `bash scripts/postgres start`, or give --postgres URL)"
        ) from None
    try:
        yield conn
    except DBAPIError as e:
        raise LabError(f"PostgreSQL at {where}: {_one_line(e)}") from None
    finally:
        conn.close()
        engine.dispose()


def _one_line(error: DBAPIError) -> str:
    return " ".join(str(error.orig).split())
