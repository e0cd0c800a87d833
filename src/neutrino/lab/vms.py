"""VMs of the lab (`lab boot`, `lab delete`) and running commands in the lab (`lab exec`).

A VM is a namespace <p>vm-<name> wired as Nova and the libvirt driver would: a port
made through the API (bound to the host, `device_owner` compute:nova, `device_id`
the VM's name), eth0 with the port's MAC, the network's MTU, its address and a
default route to the subnet's gateway; the veth peer tap<port id[:11]> up in the
host's namespace with the same MTU, where the host's agent adds it to br-int; both
ends without transmit checksum offload (see `offload`). A web service on port 80
answers with the client's address.
"""

import subprocess
from dataclasses import asdict
from pathlib import Path

from ..layout import FABRIC, INTERNET_NS, UPSTREAM
from .api import LabApi
from .procs import stop
from .shell import add_netns, delete_netns, ip_batch, netns_exists, tx_offload_off
from .state import LabState, Vm, load_running, locked
from .topology import LabError, check_vm_name, tap_name
from .web import start_http


def boot(
    directory: str | Path,
    name: str,
    network: str,
    host: str | None = None,
    ip: str | None = None,
) -> Vm:
    """Create the VM's port through the API and its namespace wired to it; the VM."""
    check_vm_name(name)
    directory = Path(directory).resolve()
    with locked(directory):
        state = load_running(directory)
        topo = state.topology
        if name in state.vms:
            raise LabError(f"VM {name!r} exists (on {state.vms[name]['host']}); pick another name")
        netns = topo.vm_ns(name)
        if netns_exists(netns):
            raise LabError(f"namespace {netns} exists already; `lab delete {name}` removes it")
        host = topo.host(host).name if host else default_host(state)
        api = LabApi.of(state)
        try:
            return _boot(state, api, name, netns, network, host, ip)
        finally:
            api.close()


def default_host(state: LabState) -> str:
    """The compute host with the fewest VMs (the first of those); any host if none computes."""
    hosts = [h for h in state.topology.hosts if h.is_compute] or list(state.topology.hosts)
    count = {h.name: 0 for h in hosts}
    for vm in state.vms.values():
        if vm["host"] in count:
            count[vm["host"]] += 1
    return min(hosts, key=lambda h: (count[h.name], h.index)).name


def _boot(state, api, name, netns, network, host, ip) -> Vm:
    net = api.network(network)
    if not net.get("subnets"):
        raise LabError(f"network {network!r} has no subnet; create one before booting on it")
    port = api.create_vm_port(net, name, host, ip)
    try:
        fixed = port["fixed_ips"][0]
        subnet = api.subnet(fixed["subnet_id"])
        vm = Vm(
            name=name,
            host=host,
            netns=netns,
            port_id=port["id"],
            mac=port["mac_address"],
            ip=fixed["ip_address"],
            prefixlen=int(subnet["cidr"].split("/")[1]),
            gateway=subnet.get("gateway_ip"),
            mtu=int(net.get("mtu") or 1500),
            network=net["name"] or net["id"],
        )
        state.vms[name] = asdict(vm)
        state.add_namespace(netns)
        _wire(state, vm)
        start_http(state, netns, f"vm-{name}")
        state.save()
        return vm
    except BaseException:
        _unwire(state, name)
        api.delete_port(port["id"])
        raise


def _wire(state: LabState, vm: Vm) -> None:
    host_ns = state.topology.ns(vm.host)
    tap = tap_name(vm.port_id)
    add_netns(vm.netns)
    lines = [
        f"link add eth0 type veth peer name {tap} netns {host_ns}",
        f"link set eth0 address {vm.mac} mtu {vm.mtu}",
        f"addr add {vm.ip}/{vm.prefixlen} dev eth0",
        "link set eth0 up",
    ]
    if vm.gateway:
        lines.append(f"route add default via {vm.gateway} dev eth0")
    ip_batch(vm.netns, lines)
    ip_batch(host_ns, [f"link set {tap} mtu {vm.mtu} up"])
    tx_offload_off({vm.netns: ["eth0"], host_ns: [tap]})


def _unwire(state: LabState, name: str) -> None:
    """Stop the VM's web service, delete its namespace (and so the veth pair), forget it."""
    proc = state.proc(f"http-vm-{name}")
    if proc:
        stop([proc])
        state.forget(proc.name)
    netns = state.topology.vm_ns(name)
    delete_netns(netns)
    if netns in state.namespaces:
        state.namespaces.remove(netns)
    state.vms.pop(name, None)
    state.save()


def delete(directory: str | Path, name: str) -> None:
    """Remove a VM: its web service, its namespace and its port."""
    directory = Path(directory).resolve()
    with locked(directory):
        state = load_running(directory)
        vm = state.vm(name)
        _unwire(state, name)
        api = LabApi.of(state)
        try:
            api.delete_port(vm.port_id)
        finally:
            api.close()


def namespace_of(state: LabState, target: str) -> str:
    """The namespace `lab exec TARGET` runs in: a VM, a host, fabric/upstream/internet, or a
    full namespace name with the lab's prefix (e.g. a router namespace)."""
    topo = state.topology
    if target in state.vms:
        return state.vms[target]["netns"]
    if target in {h.name for h in topo.hosts} | {FABRIC, UPSTREAM, INTERNET_NS}:
        return topo.ns(target)
    if target.startswith(state.prefix) and netns_exists(target):
        return target
    names = sorted(state.vms) + [h.name for h in topo.hosts] + [FABRIC, UPSTREAM, INTERNET_NS]
    raise LabError(
        f"{target!r} is not in the lab; use a VM, a host, fabric, upstream, internet or a"
        f" namespace starting with {state.prefix!r} (known: {', '.join(names)})"
    )


def exec_argv(directory: str | Path, target: str, argv: list[str]) -> list[str]:
    """The command line that runs `argv` in the target's namespace."""
    if not argv:
        raise LabError("nothing to run: give a command after --, e.g. `lab exec vm1 -- ip addr`")
    state = load_running(Path(directory).resolve())
    return ["ip", "netns", "exec", namespace_of(state, target), *argv]


def run_in(
    directory: str | Path, target: str, argv: list[str], **kw
) -> subprocess.CompletedProcess:
    """Run a command in the target's namespace; text output captured unless told otherwise."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(exec_argv(directory, target, argv), **kw)
