"""`lab status`: what runs and what is missing, as data (`status`) and as text (`render`).

For each process of lab.json: alive or not (by PID and start time). For each host:
its namespace, its OVS daemons answering, its agent, and whether the server counts
the host's L3 agent as alive. For each VM: host, address, MAC, port, namespace and
web service. Asking the server is best effort: a dead server shows as such.
"""

from pathlib import Path

from ..layout import EXTERNAL_GATEWAY, INTERNET, INTERNET_NS
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
    if procs.get("server", {}).get("alive"):
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
    return {
        "dir": state.dir,
        "prefix": state.prefix,
        "url": state.url,
        "server": procs.get("server"),
        "server_error": server_error,
        "internet_http": procs.get(f"http-{INTERNET_NS}"),
        "hosts": hosts,
        "vms": vms,
        "processes": procs,
        "namespaces": sorted(n for n in netns_list() if n.startswith(state.prefix)),
    }


def _proc(p: dict | None) -> str:
    if p is None:
        return "not started"
    return f"pid {p['pid']} {'alive' if p['alive'] else 'DEAD'}"


def _yes(value, yes: str = "yes", no: str = "NO") -> str:
    return "-" if value is None else (yes if value else no)


def render(s: dict) -> str:
    lines = [
        f"lab {s['prefix']!r} in {s['dir']}",
        f"server    {s['url']}  {_proc(s['server'])}"
        + (f"  ({s['server_error']})" if s["server_error"] else ""),
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
