"""Real OpenStack clients against the identity served by uvicorn on a loopback port.

keystoneauth1 (v3 and discovering generic Password plugins), openstacksdk, tempest's own
auth provider (as tempest uses with preprovisioned accounts) and openstackclient.
"""

import json
import socket
import threading
import time

import pytest
import uvicorn
from identity_support import config_dict
from starlette.applications import Starlette

from neutrino.identity import Identity, IdentityConfig

# The clients' own deprecation notices (osc_lib, openstacksdk) are not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]


@pytest.fixture(scope="module")
def server_url():
    """The base URL of a uvicorn server running only the identity routes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    identity = Identity(IdentityConfig.from_dict(config_dict()), url)
    app = Starlette(routes=identity.routes())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def alice(**extra) -> dict:
    return dict(
        username="alice",
        password="alice-secret",
        project_name="demo",
        user_domain_name="Default",
        project_domain_name="Default",
        **extra,
    )


def test_keystoneauth_v3_password(server_url):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    sess = session.Session(auth=v3.Password(auth_url=server_url + "/v3", **alice()))
    assert sess.get_token()
    assert sess.get_project_id() == "demo-id"
    endpoint = sess.get_endpoint(
        service_type="network", interface="public", region_name="RegionOne"
    )
    assert endpoint == server_url
    assert sess.get_endpoint(service_type="identity", interface="internal") == server_url + "/v3"
    access = sess.auth.get_access(sess)
    assert access.role_names == ["member", "reader"]
    assert access.user_domain_id == "default"


def test_keystoneauth_generic_password_discovers_v3(server_url):
    from keystoneauth1 import session
    from keystoneauth1.identity import generic

    sess = session.Session(auth=generic.Password(auth_url=server_url + "/v3", **alice()))
    assert sess.get_token()
    assert sess.get_endpoint(service_type="network", interface="public") == server_url


def test_keystoneauth_wrong_password(server_url):
    from keystoneauth1 import exceptions, session
    from keystoneauth1.identity import v3

    credentials = {**alice(), "password": "wrong"}
    sess = session.Session(auth=v3.Password(auth_url=server_url + "/v3", **credentials))
    with pytest.raises(exceptions.Unauthorized):
        sess.get_token()


def test_keystoneauth_validates_through_the_api(server_url):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    sess = session.Session(auth=v3.Password(auth_url=server_url + "/v3", **alice()))
    token = sess.get_token()
    response = sess.get(
        "/auth/tokens",
        endpoint_filter={"service_type": "identity", "interface": "public"},
        headers={"X-Subject-Token": token},
    )
    assert response.status_code == 200
    assert response.json()["token"]["user"]["name"] == "alice"


def test_openstacksdk_authorize(server_url):
    import openstack

    conn = openstack.connect(
        auth_url=server_url + "/v3",
        region_name="RegionOne",
        load_yaml_config=False,
        load_envvars=False,
        **alice(),
    )
    try:
        assert conn.authorize()
        assert conn.current_project_id == "demo-id"
        assert conn.session.get_endpoint(service_type="network", interface="public") == server_url
    finally:
        conn.close()


def test_tempest_auth_provider(server_url):
    from tempest.lib import auth

    auth_url = server_url + "/v3"
    # tempest adds [auth] default_credentials_domain_name ("Default") to preprovisioned accounts.
    credentials = auth.get_credentials(
        auth_url,
        identity_version="v3",
        username="bob",
        password="bob-secret",
        project_name="demo",
        user_domain_name="Default",
        project_domain_name="Default",
    )
    assert credentials.project_id == "demo-id"
    assert credentials.user_id == "bob-id"
    assert credentials.project_domain_id == "default"
    provider = auth.KeystoneV3AuthProvider(credentials, auth_url)
    assert provider.get_token()
    assert not provider.is_expired(provider.get_auth())
    filters = {"service": "network", "endpoint_type": "publicURL", "region": "RegionOne"}
    assert provider.base_url(filters) == server_url


def test_openstackclient_token_issue(server_url, capsys):
    from openstackclient import shell

    argv = [
        "--os-auth-url",
        server_url + "/v3",
        "--os-identity-api-version",
        "3",
        "--os-username",
        "admin",
        "--os-password",
        "admin-secret",
        "--os-project-name",
        "admin",
        "--os-user-domain-name",
        "Default",
        "--os-project-domain-name",
        "Default",
        "--os-region-name",
        "RegionOne",
        "token",
        "issue",
        "-f",
        "json",
    ]
    assert shell.main(argv) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["id"] and issued["project_id"] and issued["user_id"]
