"""Projects created through /v3/projects live in the database: they survive a restart and
every server copy (each with its own `Database`) sees them. SQLite always; PostgreSQL where
scripts/postgres can make a database, else skipped with the reason."""

import threading
import warnings

import pytest
from cryptography.fernet import Fernet
from server_support import postgres_database
from starlette.applications import Starlette

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from neutrino.db.database import Database
from neutrino.db.migrate import upgrade
from neutrino.db.projects import DbProjectStore
from neutrino.identity import Identity, IdentityConfig, Project

URL = "http://neutrino.test:9696"
CONFIG = IdentityConfig.from_dict(
    {
        "token_key": Fernet.generate_key().decode(),
        "projects": [{"name": "admin"}, {"name": "demo"}],
        "users": [
            {"name": "admin", "password": "admin-pw", "project": "admin", "roles": ["admin"]},
            {"name": "alice", "password": "alice-pw", "project": "demo", "roles": ["member"]},
        ],
    }
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/neutrino.db"
        return
    with postgres_database("identity_projects") as pg:
        yield pg


@pytest.fixture
def databases(url):
    """Opens `Database`s on the migrated URL (one per server copy) and closes them after."""
    opened = []

    def open_database() -> Database:
        db = Database(url)
        opened.append(db)
        return db

    upgrade(open_database())
    yield open_database
    for db in opened:
        db.engine.dispose()


class Server:
    """One server copy: its own Database, DbProjectStore, Identity and HTTP client."""

    def __init__(self, db: Database) -> None:
        self.identity = Identity(CONFIG, URL, project_store=DbProjectStore(db))
        self.client = TestClient(Starlette(routes=self.identity.routes()))

    def token(self, name: str = "admin") -> dict:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": name,
                            "password": f"{name}-pw",
                            "domain": {"name": "Default"},
                        }
                    },
                }
            }
        }
        response = self.client.post("/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        return {"X-Auth-Token": response.headers["X-Subject-Token"]}

    def create(self, headers: dict, **project):
        return self.client.post("/v3/projects", json={"project": project}, headers=headers)


def test_projects_are_shared_and_survive_a_restart(databases):
    one, two = Server(databases()), Server(databases())
    admin_one, admin_two = one.token(), two.token()
    domain = one.client.get("/v3/domains?name=Default", headers=admin_one).json()["domains"][0]
    response = one.create(admin_one, name="tenant", description="desc", domain_id=domain["id"])
    assert response.status_code == 201, response.text
    project = response.json()["project"]
    assert len(project["id"]) == 32 and project["parent_id"] == "default"

    assert two.identity.project_exists(project["id"])
    shown = two.client.get(f"/v3/projects/{project['id']}", headers=admin_two)
    assert shown.status_code == 200 and shown.json()["project"] == project
    listed = two.client.get("/v3/projects?name=tenant", headers=admin_two).json()["projects"]
    assert listed == [project]
    conflict = two.create(admin_two, name="tenant", domain_id="default")
    assert conflict.status_code == 409 and conflict.json()["error"]["title"] == "Conflict"

    restarted = Server(databases())
    names = [
        p["name"]
        for p in restarted.client.get("/v3/projects", headers=admin_two).json()["projects"]
    ]
    assert names == ["admin", "demo", "tenant"]

    gone = two.client.delete(f"/v3/projects/{project['id']}", headers=admin_two)
    assert gone.status_code == 204
    assert not one.identity.project_exists(project["id"])
    missing = one.client.delete(f"/v3/projects/{project['id']}", headers=admin_one)
    assert missing.status_code == 404


def test_config_projects_and_non_admins(databases):
    server = Server(databases())
    admin, alice = server.token(), server.token("alice")
    demo_id = CONFIG.project_named("demo", "default").id
    refused = server.client.delete(f"/v3/projects/{demo_id}", headers=admin)
    assert refused.status_code == 403 and "config file" in refused.json()["error"]["message"]
    assert server.create(admin, name="demo").status_code == 409
    assert server.create(alice, name="mine").status_code == 403
    assert server.client.get("/v3/projects", headers=admin).json()["projects"][-1]["name"] == (
        "demo"
    )


def test_store_directly(databases):
    store = DbProjectStore(databases())
    project = Project(id="a" * 32, name="p", domain_id="default", description="d", enabled=False)
    assert store.add(project)
    assert store.get(project.id) == project
    assert store.list() == [project]
    assert not store.add(Project(id="b" * 32, name="p", domain_id="default"))
    other = Project(id="c" * 32, name="p", domain_id="lab")
    assert store.add(other)
    assert {p.id for p in store.list()} == {project.id, other.id}
    assert store.remove(project.id) and not store.remove(project.id)
    assert store.get(project.id) is None and store.get("") is None


def test_racing_creators_get_one_project(databases):
    stores = [DbProjectStore(databases()) for _ in range(2)]
    results = []
    start = threading.Barrier(8)

    def add(i: int) -> None:
        start.wait()
        project = Project(id=f"{i:032x}", name="race", domain_id="default")
        results.append(stores[i % 2].add(project))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert [p.name for p in stores[0].list()] == ["race"]
