"""Real OpenStack Neutron from PyPI, run on this machine as the reference for bench/api.py.

    python bench/neutron_reference.py install            # venv + pip install, once
    python bench/neutron_reference.py smoke --db sqlite  # start, make a few objects, stop
    python bench/neutron_reference.py smoke --db postgresql
    python bench/neutron_reference.py serve --db sqlite --port 9696   # until SIGINT/TERM

How Neutron is run here:

- Its own venv (default bench/.neutron-venv, gitignored) with `neutron`, `gunicorn`
  and `psycopg[binary]` from PyPI. The API app is `neutron.wsgi.api:application`
  served by gunicorn, sync workers: 1 on SQLite (with 2, concurrent writes fail with
  500 "database is locked"), else 2 = one per vCPU (`--workers` sets it).
  neutron.wsgi.api parses sys.argv with oslo.config, so the gunicorn config file
  written here trims sys.argv to the program name before the app is loaded.
- neutron.conf: core_plugin ml2 (type_drivers flat,vlan,vxlan, tenant networks vxlan,
  no mechanism driver: ports stay DOWN/unbound, which needs no agent),
  service_plugins router, auth_strategy noauth, transport_url fake:/ (oslo.messaging
  in-memory driver, so no RabbitMQ), nova and DHCP agent notifications off, quotas
  for networks, subnets and ports unlimited (the default of 500 ports is too few),
  the api-paste.ini shipped in the venv's etc/neutron/. Config is found through
  OS_NEUTRON_CONFIG_DIR and OS_NEUTRON_CONFIG_FILES.
- Schema: Neutron's migrations do not run on SQLite or PostgreSQL, so the tables are
  made with `neutron.db.migration.models.head.get_metadata().create_all(engine)` on a
  fresh database (a new SQLite file, or a PostgreSQL database dropped and created by
  scripts/postgres createdb).

noauth: the shipped paste pipeline has the `fake_project_id` filter. Send NO identity
headers: every request then runs as admin in project `fake_project_id`. If X-Project-Id
is sent, the filter leaves no context at all and creates fail with 400 "Running without
keystone AuthN requires that project_id is specified" (unless project_id is in the body).
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_VENV = os.path.join(HERE, ".neutron-venv")
PACKAGES = ["neutron", "gunicorn", "psycopg[binary]"]

SCHEMA_CODE = """
import sys
import sqlalchemy as sa
from neutron.db.migration.models import head
engine = sa.create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
engine.dispose()
"""

GUNICORN_CONF = """# Written by bench/neutron_reference.py.
import sys

# neutron.wsgi.api hands sys.argv to oslo.config, which rejects gunicorn's arguments.
sys.argv = sys.argv[:1]

bind = "127.0.0.1:{port}"
workers = {workers}
worker_class = "sync"
timeout = 120
"""

NEUTRON_CONF = """# Written by bench/neutron_reference.py.
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = noauth
api_paste_config = {paste}
transport_url = fake:/
state_path = {workdir}
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
debug = false

[database]
connection = {db_url}

[oslo_concurrency]
lock_path = {workdir}/lock

[quotas]
quota_network = -1
quota_subnet = -1
quota_port = -1

[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers =

[ml2_type_vxlan]
vni_ranges = 1:1000
"""


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def ensure_venv(venv=DEFAULT_VENV):
    """Create the venv and install Neutron into it unless that was done already."""
    python = venv_python(venv)
    if os.path.exists(python) and _installed(python):
        return python
    if not os.path.exists(python):
        print(f"neutron_reference: creating venv {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    print(f"neutron_reference: pip install {' '.join(PACKAGES)}", file=sys.stderr)
    subprocess.run([python, "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return python


def _installed(python):
    check = "import neutron.wsgi, gunicorn, psycopg"
    return subprocess.run([python, "-c", check], capture_output=True).returncode == 0


def fresh_database(kind, workdir, name="neutron_ref"):
    """Return the URL of an empty database: a new SQLite file, or a new PostgreSQL db."""
    if kind == "sqlite":
        path = os.path.join(workdir, f"{name}.db")
        if os.path.exists(path):
            os.remove(path)
        return "sqlite:///" + path
    if kind == "postgresql":
        script = os.path.join(REPO, "scripts", "postgres")
        out = subprocess.run(
            ["bash", script, "createdb", name], check=True, capture_output=True, text=True
        )
        return out.stdout.strip().splitlines()[-1]
    raise ValueError(f"unknown database kind {kind!r}")


def create_schema(venv, db_url):
    subprocess.run(
        [venv_python(venv), "-W", "ignore", "-c", SCHEMA_CODE, db_url],
        check=True,
        stderr=subprocess.DEVNULL,
    )


def default_workers(db_url):
    """One process on SQLite (two give 'database is locked' 500s), else one per vCPU."""
    return 1 if db_url.startswith("sqlite") else 2


def port_in_use(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class NeutronServer:
    """One gunicorn-served Neutron API on 127.0.0.1:port; start() then stop()."""

    def __init__(self, db_url, port, workdir, venv=DEFAULT_VENV, workers=None):
        self.db_url = db_url
        self.port = port
        self.workdir = workdir
        self.venv = venv
        self.workers = workers or default_workers(db_url)
        self.proc = None
        self.log_path = os.path.join(workdir, "neutron-api.log")
        self.url = f"http://127.0.0.1:{port}"

    def write_config(self):
        os.makedirs(os.path.join(self.workdir, "lock"), exist_ok=True)
        paste = os.path.join(self.venv, "etc", "neutron", "api-paste.ini")
        conf = NEUTRON_CONF.format(paste=paste, workdir=self.workdir, db_url=self.db_url)
        with open(os.path.join(self.workdir, "neutron.conf"), "w") as f:
            f.write(conf)
        gconf = GUNICORN_CONF.format(port=self.port, workers=self.workers)
        with open(os.path.join(self.workdir, "gunicorn.conf.py"), "w") as f:
            f.write(gconf)

    def start(self, timeout=120):
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        self.write_config()
        env = dict(os.environ)
        env["OS_NEUTRON_CONFIG_DIR"] = self.workdir
        env["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf"
        env["PYTHONWARNINGS"] = "ignore"
        gunicorn = os.path.join(self.venv, "bin", "gunicorn")
        conf = os.path.join(self.workdir, "gunicorn.conf.py")
        cmd = [gunicorn, "-c", conf, "neutron.wsgi.api:application"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.workdir, env=env, stdout=log, stderr=log, start_new_session=True
            )
        wait_until_up(self.url, self.proc, timeout, self.log_path)

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


def wait_until_up(url, proc, timeout, log_path):
    """Poll GET /v2.0/networks until it answers 200; fail if proc dies or time runs out."""
    host_port = url.split("//", 1)[1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log_path}")
        try:
            conn = http.client.HTTPConnection(host_port, timeout=5)
            conn.request("GET", "/v2.0/networks")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    stop_process(proc)
    raise RuntimeError(f"server did not answer within {timeout}s; see {log_path}")


def stop_process(proc, grace=30):
    """SIGTERM the process we started (a session leader), then SIGKILL its group if needed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group it led, if any
    except ProcessLookupError:
        pass
    proc.wait()


def call(url, method, path, body=None):
    """One request with no identity headers; returns (status, decoded JSON or None)."""
    conn = http.client.HTTPConnection(url.split("//", 1)[1], timeout=60)
    data = json.dumps(body) if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, (json.loads(raw) if raw else None)


def smoke(url, ports=5):
    """Create a network, a subnet 10.0.0.0/20 and some ports; print what came back."""
    status, net = call(url, "POST", "/v2.0/networks", {"network": {"name": "smoke"}})
    assert status == 201, (status, net)
    net_id = net["network"]["id"]
    subnet = {"network_id": net_id, "cidr": "10.0.0.0/20", "ip_version": 4}
    status, sub = call(url, "POST", "/v2.0/subnets", {"subnet": subnet})
    assert status == 201, (status, sub)
    print(f"network {net_id} subnet {sub['subnet']['id']} {sub['subnet']['cidr']}")
    for i in range(ports):
        port = {"network_id": net_id, "name": f"smoke-{i}", "device_owner": "compute:nova"}
        status, body = call(url, "POST", "/v2.0/ports", {"port": port})
        assert status == 201, (status, body)
        p = body["port"]
        print(f"port {p['id']} {p['mac_address']} {p['fixed_ips'][0]['ip_address']}")
    path = f"/v2.0/ports?network_id={net_id}&fields=id&fields=mac_address"
    status, body = call(url, "GET", path)
    assert status == 200 and len(body["ports"]) == ports, (status, body)
    print(f"listed {len(body['ports'])} ports: ok")


def wait_for_signal():
    """Block until SIGINT or SIGTERM (set explicitly: a background job ignores SIGINT)."""
    received = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: received.append(signum))
    while not received:
        signal.pause()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install", "smoke", "serve"])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--port", type=int, default=9797)
    parser.add_argument("--workers", type=int, help="default: 1 on SQLite, else 2")
    parser.add_argument("--venv", default=DEFAULT_VENV)
    parser.add_argument("--workdir", help="config, logs, SQLite file (default: a temp dir)")
    args = parser.parse_args()

    ensure_venv(args.venv)
    if args.command == "install":
        return
    workdir = args.workdir or tempfile.mkdtemp(prefix="neutron-ref-")
    os.makedirs(workdir, exist_ok=True)
    if args.db in ("sqlite", "postgresql"):
        db_url = fresh_database(args.db, workdir)
    else:
        db_url = args.db
    create_schema(args.venv, db_url)
    workers = args.workers or default_workers(db_url)
    server = NeutronServer(db_url, args.port, workdir, args.venv, workers)
    print(f"starting Neutron on {server.url} with {db_url} (log {server.log_path})")
    t0 = time.monotonic()
    server.start()
    print(f"up after {time.monotonic() - t0:.1f}s, pid {server.proc.pid}")
    try:
        if args.command == "smoke":
            smoke(server.url)
        else:
            wait_for_signal()
    finally:
        server.stop()
        print("stopped")
    if args.command == "smoke" and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
