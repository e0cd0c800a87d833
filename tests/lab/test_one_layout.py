"""The lab and the simulator build one `neutrino.layout`: the same hosts, namespaces,
devices and addresses, and the same packets' paths (no root: the lab's own plan of
`ip` commands runs in the kernel model).

The one difference by design: the lab puts a host's tunnel address on OVS br-phy
(eth-tun its port), the model on eth-tun itself. Here a Linux bridge br-phy stands
in for the OVS bridge (standalone, NORMAL: a learning switch).
"""

import pytest

from neutrino.kernel import Kernel
from neutrino.kernel.inet import fmt
from neutrino.kernel.ip import Options, run_batch
from neutrino.kernel.packet import icmp_echo
from neutrino.lab.fabric import Batch, fabric_plan, host_plan
from neutrino.lab.ovs import tunnel_address_lines
from neutrino.lab.topology import build_topology
from neutrino.layout import (
    EXTERNAL_CIDR,
    EXTERNAL_GATEWAY,
    OVS_TUNNEL_BRIDGE,
    TUN_DEV,
    layout_of,
)
from neutrino.scheduler.cloud import Cloud
from neutrino.scheduler.cloud import Host as CloudHost
from neutrino.sim.cloud import SimCloud
from neutrino.sim.topology import Topology as SimTopology
from neutrino.sim.world import World

PREFIX = "nt-"


@pytest.fixture(scope="module")
def lab():
    return build_topology(2, 1, PREFIX)


@pytest.fixture(scope="module")
def model(lab):
    """The simulator's World of a cloud with the lab's hosts (no networks, no VMs)."""
    cloud = SimCloud(SimTopology({h.name: h.mode for h in lab.hosts}))
    yield cloud.world
    cloud.close()


@pytest.fixture(scope="module")
def lab_in_model(lab):
    """The lab's real builder's plan, made in the kernel model instead of the kernel."""
    kernel = Kernel()
    lines = [f"-n {ns} link set lo up" for ns in lab.namespaces()]  # as `shell.add_netns`
    plan = fabric_plan(lab) + [step for h in lab.hosts for step in host_plan(lab, h)]
    for step in plan:
        if isinstance(step, Batch):
            lines += [f"-n {step.ns} {line}" for line in step.lines]
        else:
            lines.append(f"-n {step.ns} sysctl -w {step.key}={step.value}")
    for h in lab.hosts:  # what `ovs.add_tunnel_bridge` makes, with a Linux bridge for OVS's
        ns = lab.ns(h.name)
        lines += [
            f"-n {ns} link add {OVS_TUNNEL_BRIDGE} type bridge",
            f"-n {ns} link set {TUN_DEV} master {OVS_TUNNEL_BRIDGE}",
        ]
        lines += [f"-n {ns} {line}" for line in tunnel_address_lines(lab, h)]
    out, err, rc = run_batch(kernel, "\n".join(lines) + "\n", kernel.init, Options())
    assert rc == 0, err
    return kernel


def _bare(name: str) -> str:
    return name.removeprefix(PREFIX)


def _devices(ns) -> dict[str, tuple]:
    """name -> (kind, peer's namespace and name, master, up, addresses)."""
    return {
        link.name: (
            link.kind,
            link.peer and (_bare(link.peer.ns.name), link.peer.name),
            link.master and link.master.name,
            link.up,
            sorted(f"{fmt(a.local)}/{a.prefixlen}" for a in link.addrs),
        )
        for link in ns.links.values()
    }


def test_the_lab_and_the_model_have_one_layout(lab, model):
    assert model.layout == lab.layout == layout_of([(h.name, h.mode) for h in lab.hosts])
    assert [(h.name, h.index, h.tunnel_ip) for h in model.layout.hosts] == [
        ("compute1", 0, "172.30.0.10"),
        ("compute2", 1, "172.30.0.11"),
        ("network1", 2, "172.30.0.12"),
    ]
    assert str(model.layout.underlay) == "172.30.0.0/24"  # the lab's real /24
    assert {h: model.cloud.hosts[h].tunnel_ip for h in model.cloud.hosts} == {
        h.name: h.tunnel_ip for h in lab.hosts
    }


def test_the_same_namespaces_devices_and_addresses(lab, model, lab_in_model):
    made = [ns for ns in lab_in_model.namespaces if ns != lab_in_model.init.name]
    assert made == lab.namespaces()
    assert sorted(map(_bare, made)) == sorted(model.kernel.namespaces)
    for name in ("fabric", "upstream", "internet"):
        assert _devices(lab_in_model.namespaces[PREFIX + name]) == _devices(
            model.kernel.namespaces[name]
        ), name
    for h in lab.hosts:
        real = _devices(lab_in_model.namespaces[lab.ns(h.name)])
        sim = _devices(model.kernel.namespaces[h.name])
        br_phy = real.pop(OVS_TUNNEL_BRIDGE)
        kind, peer, master, up, addrs = real.pop(TUN_DEV)
        assert (master, br_phy[4], addrs) == (OVS_TUNNEL_BRIDGE, [f"{h.tunnel_ip}/24"], [])
        real[TUN_DEV] = (kind, peer, None, up, br_phy[4])  # the address where the model has it
        assert real == {name: sim[name] for name in real}, h.name
    assert lab_in_model.netns(PREFIX + "internet").ip("route") == model.kernel.netns("internet").ip(
        "route"
    )


def _as_model_names(trace, lab) -> str:
    """The trace's text, each namespace by its bare name and the tunnel address's
    device (br-phy in the lab) by the model's (eth-tun)."""
    bare = {ns: _bare(ns) for ns in lab.namespaces()}
    lines = [bare.get(line, line) for line in str(trace).splitlines()]
    return "".join(f"{line}\n" for line in lines).replace(OVS_TUNNEL_BRIDGE, TUN_DEV)


def test_a_trace_in_the_lab_names_what_the_same_trace_in_the_model_names(lab, model, lab_in_model):
    """internet to upstream's external gateway; compute1 to compute2 over the underlay
    (ARP reaching every host on br-underlay)."""
    for src, dst in (("internet", "198.51.100.1"), ("compute1", "172.30.0.11")):
        real = lab_in_model.send(PREFIX + src, icmp_echo(0, dst))
        sim = model.kernel.send(src, icmp_echo(0, dst))
        assert _as_model_names(real, lab) == str(sim), (src, dst)
        assert "delivered to a socket" in str(sim)


def test_a_cloud_of_the_labs_hosts_has_the_labs_layout_however_their_names_sort():
    """compute10 sorts before compute2 by name; the model orders the hosts as the
    lab does, by tunnel address, so host i's peers are u<i> and x<i> in both."""
    lab = build_topology(11, 1, PREFIX)
    cloud = Cloud()
    for h in lab.hosts:
        cloud.hosts[h.name] = CloudHost(h.name, h.mode, h.tunnel_ip, "")
    world = World(cloud, {}, {}, EXTERNAL_CIDR, EXTERNAL_GATEWAY, set())
    assert world.layout == lab.layout
    fabric = world.kernel.namespaces["fabric"]
    assert fabric.links["u9"].peer.ns.name == "compute10"
    assert fabric.links["x11"].peer.ns.name == "network1"
