"""Storage: migrations build exactly the schema, every write is numbered in commit order."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from neutrino.config import ConfigError, load_config
from neutrino.db import schema
from neutrino.db.database import Database
from neutrino.db.migrate import upgrade


def test_migrations_build_the_schema_the_code_uses(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/m.db")
    upgrade(db)
    upgrade(db)  # a second start migrates nothing and keeps the counter
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    assert db.last_change() == 0


def test_every_write_gets_the_next_change_number(cloud):
    db = cloud.client.app.state.api.db
    start = db.last_change()
    net = cloud.alice.make("network")
    sub = cloud.alice.make("subnet", network_id=net["id"], cidr="10.1.0.0/24")
    cloud.alice.make("port", network_id=net["id"])
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(schema.changes)
            .where(schema.changes.c.seq > start)
            .order_by(schema.changes.c.seq)
        ).all()
    assert [r.seq for r in rows] == list(range(start + 1, start + len(rows) + 1))
    assert [(r.resource, r.action) for r in rows] == [
        ("network", "create"),
        ("subnet", "create"),
        ("network", "update"),
        ("port", "create"),
        ("security_group", "create"),  # the project's default group, made for its first port
    ]
    assert rows[1].resource_id == sub["id"]
    assert db.last_change() == rows[-1].seq
    failed = cloud.alice.post(
        "/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.1.0.0/25"}}
    )
    assert failed.status_code == 400
    assert db.last_change() == rows[-1].seq  # a refused write leaves no trace


def test_config_errors_name_the_setting(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nauth_strategy = "none"\n')
    try:
        load_config(path, environ={})
    except ConfigError as e:
        assert "auth_strategy" in str(e) and "noauth" in str(e)
    else:
        raise AssertionError("accepted a bad auth_strategy")
    path.write_text("[server]\nport = 9696\n")
    cfg = load_config(
        path, environ={"NEUTRINO_SERVER_PORT": "19000", "NEUTRINO_SERVER_AUTH_STRATEGY": "noauth"}
    )
    assert cfg.server.port == 19000 and cfg.server.auth_strategy == "noauth"
    path.write_text("[server]\nprot = 1\n")
    try:
        load_config(path, environ={})
    except ConfigError as e:
        assert "prot" in str(e)
    else:
        raise AssertionError("accepted an unknown setting")
