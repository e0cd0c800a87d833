"""Neutron API v2.0 benchmark: port creation and filtered port lists, against any server.

    python bench/api.py --url http://127.0.0.1:9696 [--header K:V ...] [--label NAME]
    python bench/api.py --compare [--db sqlite|postgresql|both] [--ports 1000]
    python bench/api.py --compare --only neutron --ports 100 --repeat 20   # quick

Scenarios, on a target whose database is fresh (the list counts are checked exactly):
  1. network + subnet 10.0.0.0/20, then --ports port creations from 1 client;
  2. a new network + subnet 10.0.0.0/20, --ports creations from --clients clients (16),
     then the ports are read back: all must have distinct IPs and MACs;
  3. filtered lists on the first network, each --repeat times from 1 client, all with
     fields=id&fields=mac_address: by network_id, network_id&device_owner=compute:nova,
     fixed_ips=ip_address=IP, name; and a plain GET of one port.
Every answer's status (and list sizes) is checked; errors are counted and reported
loudly, and the exit status is 1 when there were any.

--compare starts each server itself, one at a time on a fresh database: real Neutron
from PyPI (bench/neutron_reference.py, gunicorn with --neutron-workers) and neutrino
(`neutrino server --config FILE --port P`, TOML config with auth_strategy noauth), on
SQLite and/or PostgreSQL (scripts/postgres), and prints a side-by-side table with the
ratio neutrino/Neutron. --only neutron|neutrino runs one side. --json FILE saves all.
Both are run with auth_strategy noauth and sent no identity headers (Neutron's noauth
then acts as admin of project fake_project_id; see bench/neutron_reference.py).
"""

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import http_load
import neutron_reference

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NEUTRINO = os.path.join(REPO, ".venv", "bin", "neutrino")
CIDR = "10.0.0.0/20"
FIELDS = "fields=id&fields=mac_address"


# ---------------------------------------------------------------- the scenarios


def make_network(client, name):
    net = client.json("POST", "/v2.0/networks", {"network": {"name": name}}, expect=201)
    net_id = net["network"]["id"]
    subnet = {"network_id": net_id, "cidr": CIDR, "ip_version": 4, "name": name}
    client.json("POST", "/v2.0/subnets", {"subnet": subnet}, expect=201)
    return net_id


def port_requests(net_id, prefix, count):
    """Port creations; every other port is owned by compute:nova."""
    requests = []
    for i in range(count):
        owner = "compute:nova" if i % 2 == 0 else "compute:other"
        port = {"network_id": net_id, "name": f"{prefix}-{i}", "device_owner": owner}
        requests.append(("POST", "/v2.0/ports", {"port": port}))
    return requests


def check_created(index, status, raw):
    if status != 201:
        return f"create #{index}: {status} {raw[:200]!r}"
    try:
        ips = [ip["ip_address"] for ip in json.loads(raw)["port"]["fixed_ips"]]
    except (ValueError, KeyError, TypeError) as exc:
        return f"create #{index}: bad answer ({exc!r}) {raw[:200]!r}"
    if len(ips) != 1 or ipaddress.ip_address(ips[0]) not in ipaddress.ip_network(CIDR):
        return f"create #{index}: fixed_ips {ips}"
    return None


def read_back(client, net_id, expected):
    """List a network's ports; returns (ports, problems) checking count, IPs and MACs."""
    path = f"/v2.0/ports?network_id={net_id}&{FIELDS}&fields=fixed_ips&fields=name"
    ports = client.json("GET", path)["ports"]
    problems = []
    if len(ports) != expected:
        problems.append(f"read back {len(ports)} ports, expected {expected}")
    ips = [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]
    macs = [p["mac_address"] for p in ports]
    if len(ips) != len(ports) or len(set(ips)) != len(ips):
        problems.append(f"{len(ports)} ports hold {len(ips)} IPs, {len(set(ips))} distinct")
    if len(set(macs)) != len(macs):
        problems.append(f"{len(macs)} MACs, only {len(set(macs))} distinct")
    return ports, problems


def expect_count(expected):
    def check(index, status, raw):
        if status != 200:
            return f"list #{index}: {status} {raw[:200]!r}"
        try:
            got = len(json.loads(raw)["ports"])
        except (ValueError, KeyError, TypeError) as exc:
            return f"list #{index}: bad answer ({exc!r})"
        return None if got == expected else f"list #{index}: {got} ports, expected {expected}"

    return check


def expect_ok(index, status, raw):
    return None if status == 200 else f"get #{index}: {status} {raw[:200]!r}"


def run_suite(url, headers, ports, clients, repeat, log=print):
    """All scenarios against one server; returns (list of Stats, list of problems)."""
    client = http_load.Client(url, headers)
    tag = uuid.uuid4().hex[:6]
    results = []
    problems = []

    def scenario(name, requests, n_clients, check):
        stats = http_load.run(name, url, headers, requests, n_clients, check)
        log(
            f"  {name:<34} {stats.rate:8.1f} req/s  p50 {stats.percentile(50):7.1f} ms"
            f"  p99 {stats.percentile(99):7.1f} ms  errors {stats.errors}"
        )
        results.append(stats)

    serial_net = make_network(client, f"bench-{tag}-serial")
    scenario(
        "create port, 1 client", port_requests(serial_net, f"b{tag}-s", ports), 1, check_created
    )
    busy_net = make_network(client, f"bench-{tag}-concurrent")
    requests = port_requests(busy_net, f"b{tag}-c", ports)
    scenario(f"create port, {clients} clients", requests, clients, check_created)

    serial_ports, found = read_back(client, serial_net, ports)
    problems += [f"serial network: {p}" for p in found]
    busy_ports, found = read_back(client, busy_net, ports)
    problems += [f"concurrent network: {p}" for p in found]
    if found == []:
        log(f"  read back {len(busy_ports)} ports: distinct IPs and MACs")
    if not serial_ports:
        return results, problems + ["no ports to list"]

    by_name = {p["name"]: p for p in serial_ports}
    probe = by_name.get(f"b{tag}-s-{ports // 2}", serial_ports[0])
    probe_ip = probe["fixed_ips"][0]["ip_address"]
    all_ips = [ip["ip_address"] for p in serial_ports + busy_ports for ip in p["fixed_ips"]]
    lists = [
        ("list network_id", f"network_id={serial_net}&{FIELDS}", len(serial_ports)),
        (
            "list network_id+device_owner",
            f"network_id={serial_net}&device_owner=compute:nova&{FIELDS}",
            (ports + 1) // 2,
        ),
        (
            "list fixed_ips=ip_address",
            f"fixed_ips=ip_address%3D{probe_ip}&{FIELDS}",
            all_ips.count(probe_ip),
        ),
        ("list name", f"name={probe['name']}&{FIELDS}", 1),
    ]
    for name, query, expected in lists:
        requests = [("GET", f"/v2.0/ports?{query}", None)] * repeat
        scenario(name, requests, 1, expect_count(expected))
    requests = [("GET", f"/v2.0/ports/{probe['id']}", None)] * repeat
    scenario("show port", requests, 1, expect_ok)
    client.close()
    return results, problems


# ---------------------------------------------------------------- servers for --compare


def neutrino_available():
    if not os.path.exists(NEUTRINO):
        return False
    probe = subprocess.run([NEUTRINO, "server", "--help"], capture_output=True)
    return probe.returncode == 0


class NeutrinoServer:
    """neutrino's API server on 127.0.0.1:port with a TOML config; start() then stop()."""

    def __init__(self, db_url, port, workdir):
        self.db_url = db_url
        self.port = port
        self.workdir = workdir
        self.proc = None
        self.log_path = os.path.join(workdir, "neutrino-api.log")
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout=60):
        if neutron_reference.port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        config = os.path.join(self.workdir, "neutrino.toml")
        with open(config, "w") as f:
            f.write(f'[server]\nport = {self.port}\ndatabase = "{self.db_url}"\n')
            f.write('auth_strategy = "noauth"\n')
        cmd = [NEUTRINO, "server", "--config", config, "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.workdir, stdout=log, stderr=log, start_new_session=True
            )
        neutron_reference.wait_until_up(self.url, self.proc, timeout, self.log_path)

    def stop(self):
        if self.proc is not None:
            neutron_reference.stop_process(self.proc)
            self.proc = None


def start_server(side, kind, args, workdir):
    if side == "neutron":
        neutron_reference.ensure_venv(args.neutron_venv)
        db_url = neutron_reference.fresh_database(kind, workdir, "neutron_bench")
        neutron_reference.create_schema(args.neutron_venv, db_url)
        server = neutron_reference.NeutronServer(
            db_url, args.port, workdir, args.neutron_venv, args.neutron_workers
        )
    else:
        db_url = neutron_reference.fresh_database(kind, workdir, "neutrino_bench")
        server = NeutrinoServer(db_url, args.port, workdir)
    t0 = time.monotonic()
    server.start()
    workers = f", {server.workers} gunicorn workers" if side == "neutron" else ""
    print(
        f"{side}-{kind}: up in {time.monotonic() - t0:.1f}s, pid {server.proc.pid}{workers},"
        f" log {server.log_path}"
    )
    return server


# ---------------------------------------------------------------- reports


def print_table(label, results):
    print(f"\n{label}")
    print(
        f"  {'scenario':<34} {'clients':>7} {'requests':>8} {'errors':>6}"
        f" {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    )
    for s in results:
        print(
            f"  {s.name:<34} {s.clients:>7} {s.count:>8} {s.errors:>6} {s.rate:>9.1f}"
            f" {s.percentile(50):>8.1f} {s.percentile(99):>8.1f}"
        )


def print_comparison(kind, neutron, neutrino):
    print(f"\nneutrino vs Neutron on {kind} (ratio = neutrino / Neutron)")
    print(
        f"  {'scenario':<34} {'Neutron r/s':>11} {'neutrino r/s':>12} {'ratio':>7}"
        f" {'p50 N/n ms':>15} {'p99 N/n ms':>15}"
    )
    others = {s.name: s for s in neutrino}
    for a in neutron:
        b = others.get(a.name)
        if b is None:
            continue
        ratio = b.rate / a.rate if a.rate else float("nan")
        p50 = f"{a.percentile(50):.1f}/{b.percentile(50):.1f}"
        p99 = f"{a.percentile(99):.1f}/{b.percentile(99):.1f}"
        print(f"  {a.name:<34} {a.rate:>11.1f} {b.rate:>12.1f} {ratio:>6.2f}x {p50:>15} {p99:>15}")


def report_errors(label, results, problems):
    """Print every error loudly; returns how many there were."""
    total = sum(s.errors for s in results) + len(problems)
    if total:
        print(f"\n!!!!!! {label}: {total} ERRORS -- these figures are not valid !!!!!!")
        for s in results:
            for message in s.messages:
                print(f"!!! {s.name}: {message}")
        for problem in problems:
            print(f"!!! {problem}")
    return total


# ---------------------------------------------------------------- main


def measure(url, headers, args):
    """run_suite, with a failed setup step (network, subnet, read back) as an error."""
    try:
        return run_suite(url, headers, args.ports, args.clients, args.repeat)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        return [], [f"stopped early: {exc}"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running Neutron-API server, e.g. http://127.0.0.1:9696")
    target.add_argument("--compare", action="store_true", help="start Neutron and neutrino")
    parser.add_argument("--header", action="append", default=[], metavar="K:V")
    parser.add_argument("--label", help="name of the --url target in the report")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", choices=["neutron", "neutrino"])
    parser.add_argument("--ports", type=int, default=1000, help="ports per creation run")
    parser.add_argument("--clients", type=int, default=16, help="clients of the 2nd run")
    parser.add_argument("--repeat", type=int, default=100, help="requests per list scenario")
    parser.add_argument("--port", type=int, default=9797, help="port for started servers")
    parser.add_argument(
        "--neutron-workers", type=int, help="gunicorn workers (default: 1 on SQLite, else 2)"
    )
    parser.add_argument("--neutron-venv", default=neutron_reference.DEFAULT_VENV)
    parser.add_argument("--workdir", help="configs, logs, SQLite files (default: temp dir)")
    parser.add_argument("--json", help="write all figures to this file")
    return parser.parse_args()


def main():
    args = parse_args()
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    runs = {}  # label -> (results, problems)

    if args.url:
        label = args.label or args.url
        print(f"{label}: {args.ports} ports, {args.clients} clients, lists x{args.repeat}")
        runs[label] = measure(args.url, headers, args)
    else:
        sides = [args.only] if args.only else ["neutron", "neutrino"]
        if "neutrino" in sides and not neutrino_available():
            print(f"!!! `{NEUTRINO} server` is not available: running Neutron only")
            sides.remove("neutrino")
        kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
        workdir = args.workdir or tempfile.mkdtemp(prefix="bench-api-")
        for kind in kinds:
            for side in sides:
                label = f"{side}-{kind}"
                sub = os.path.join(workdir, label)
                os.makedirs(sub, exist_ok=True)
                server = start_server(side, kind, args, sub)
                try:
                    runs[label] = measure(server.url, headers, args)
                finally:
                    server.stop()

    for label, (results, _) in runs.items():
        print_table(label, results)
    if args.compare:
        for kind in ["sqlite", "postgresql"]:
            a, b = runs.get(f"neutron-{kind}"), runs.get(f"neutrino-{kind}")
            if a and b:
                print_comparison(kind, a[0], b[0])
    errors = sum(report_errors(label, *run) for label, run in runs.items())
    if args.json:
        data = {
            label: {"scenarios": [s.summary() for s in results], "problems": problems}
            for label, (results, problems) in runs.items()
        }
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
    if errors:
        print(f"\n!!!!!! {errors} ERRORS in total !!!!!!")
        sys.exit(1)


if __name__ == "__main__":
    main()
