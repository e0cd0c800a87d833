"""Fixtures for in-process API tests: a server app on a fresh database, and callers.

`cloud.admin`, `cloud.alice` (member of demo), `cloud.rita` (reader of demo) and
`cloud.bob` (member of other) are HTTP clients carrying their own Keystone token.
Each test runs on SQLite and on PostgreSQL (skipped, with the reason, where
PostgreSQL cannot be started).
"""

import warnings

import pytest
from api_support import Cloud, write_config
from server_support import postgres_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from neutrino.config import load_config
from neutrino.server import make_app


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/neutrino.db"
        return
    with postgres_database("unit") as url:
        yield url


@pytest.fixture
def cloud(tmp_path, database) -> Cloud:
    path = tmp_path / "neutrino.toml"
    write_config(path, database)
    app = make_app(load_config(path, environ={}))
    with TestClient(app) as client:
        yield Cloud(client)
    app.state.api.db.engine.dispose()  # no connection left to keep the database from going
