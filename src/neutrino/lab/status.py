"""`lab status`: what runs and what is missing, as data (`status`) and as text (`render`).

For each process of lab.json: alive or not (by PID and start time). For each API
server: its address, process and (behind HAProxy) the state HAProxy gives it. For each host:
its namespace, its OVS daemons answering, its agent, and whether the server counts
the host's L3 agent as alive. For each VM: host, address, MAC, port, namespace and
web service. Asking the server is best effort: a dead server shows as such.
"""

from pathlib import Path

from ..layout import EXTERNAL_GATEWAY, INTERNET, INTERNET_NS
from . import balancer
from .api import LabApi
from .ovs import answers
from .shell import netns_exists, netns_list
from .state import load_running
from .topology import LabError


def status(directory: str | Path) -> dict:
    state = load_running(Path(directory).resolve())
    topo = state.topology
    procs = {p.name: {"pid": p.pid, "alive": p.alive()} for p in state.procs()}
    registered: dict[str, bool] = {}
    server_error = None
    front = state.balancer.get("name", state.servers[0]["name"] if state.servers else "server")
    if procs.get(front, {}).get("alive"):
        try:
            api = LabApi.of(state)
            try:
                registered = {a["host"]: a["alive"] for a in api.agents()}
            finally:
                api.close()
        except LabError as e:
            server_error = str(e)
    hosts = []
    for h in topo.hosts:
        ns = topo.ns(h.name)
        hosts.append(
            {
                "name": h.name,
                "mode": h.mode,
                "tunnel_ip": h.tunnel_ip,
                "netns": ns,
                "netns_exists": netns_exists(ns),
                "ovs_answers": answers(state.ovs_dir(h.name)),
                "agent": procs.get(f"agent-{h.name}"),
                "registered_alive": registered.get(h.name),
                "vms": sorted(n for n, vm in state.vms.items() if vm["host"] == h.name),
            }
        )
    vms = [
        {**vm, "netns_exists": netns_exists(vm["netns"]), "http": procs.get(f"http-vm-{name}")}
        for name, vm in sorted(state.vms.items())
    ]
    seen: dict[str, dict] = {}
    if state.balancer and procs.get(balancer.NAME, {}).get("alive"):
        try:
            seen = balancer.server_states(state.path / balancer.SOCKET)
        except OSError as e:
            server_error = f"HAProxy's stats socket: {e}"
    servers = [
        {
            "name": s["name"],
            "url": f"http://127.0.0.1:{s['port']}",
            "process": procs.get(s["name"]),
            "haproxy": seen.get(s["name"], {}).get("status"),
        }
        for s in state.servers
    ]
    return {
        "dir": state.dir,
        "prefix": state.prefix,
        "url": state.url,
        "servers": servers,
        "haproxy": procs.get(balancer.NAME) if state.balancer else None,
        "database": _redacted(state.database) if state.database else "SQLite in the lab dir",
        "server_error": server_error,
        "internet_http": procs.get(f"http-{INTERNET_NS}"),
        "hosts": hosts,
        "vms": vms,
        "processes": procs,
        "namespaces": sorted(n for n in netns_list() if n.startswith(state.prefix)),
    }


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _proc(p: dict | None) -> str:
    if p is None:
        return "not started"
    return f"pid {p['pid']} {'alive' if p['alive'] else 'DEAD'}"


def _yes(value, yes: str = "yes", no: str = "NO") -> str:
    return "-" if value is None else (yes if value else no)


def render(s: dict) -> str:
    lines = [f"lab {s['prefix']!r} in {s['dir']}"]
    if s["haproxy"] is not None:
        lines.append(f"haproxy   {s['url']}  {_proc(s['haproxy'])}")
    for srv in s["servers"]:
        seen = f"  haproxy: {srv['haproxy']}" if srv["haproxy"] else ""
        lines.append(f"{srv['name']:<9} {srv['url']}  {_proc(srv['process'])}{seen}")
    if s["server_error"]:
        lines.append(f"  ({s['server_error']})")
    lines += [
        f"database  {s['database']}",
        f"internet  {INTERNET} behind upstream {EXTERNAL_GATEWAY}, "
        f"web service {_proc(s['internet_http'])}",
        "hosts:",
    ]
    for h in s["hosts"]:
        lines.append(
            f"  {h['name']:<10} {h['mode']:<8} {h['tunnel_ip']:<13} "
            f"netns {_yes(h['netns_exists'])}  ovs {_yes(h['ovs_answers'], 'answers', 'DOWN')}  "
            f"agent {_proc(h['agent'])}  registered {_yes(h['registered_alive'], 'alive', 'dead')}"
            f"  vms {len(h['vms'])}"
        )
    lines.append("vms:" if s["vms"] else "vms: none (neutrino lab boot NAME --network NET)")
    for vm in s["vms"]:
        lines.append(
            f"  {vm['name']:<10} {vm['host']:<10} {vm['ip'] + '/' + str(vm['prefixlen']):<18} "
            f"gw {vm['gateway'] or '-'}  {vm['mac']}  port {vm['port_id'][:8]}  "
            f"net {vm['network']}  netns {_yes(vm['netns_exists'])}  web {_proc(vm['http'])}"
        )
    lines.append(f"namespaces: {len(s['namespaces'])} with prefix {s['prefix']!r}")
    return "\n".join(lines) + "\n"
