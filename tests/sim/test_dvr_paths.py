"""The three DVR traffic paths, hop by hop in the model, against Neutron's behaviour.

Each cloud is built through neutrino's own API code, placed by the scheduler,
planned per host and realized in the kernel and OVS models (`SimCloud`).
"""

from sim_support import arp_frames, cloud, delivered, first_pid, namespaces_of, tunnel_frames

from neutrino.kernel.packet import ArpMessage


def _hosts(path: list[str]) -> set[str]:
    return {ns.split(":")[0] for ns in path}


def _gateway_mac(sim, network: str) -> str:
    model, _ = sim.control.cloud()
    subnet = sim.control.ids[f"subnet:{network}"]
    port = next(
        p
        for p in model.ports.values()
        if p.device_owner.startswith("network:router_interface") and p.fixed_ips[0][0] == subnet
    )
    return port.mac


def test_east_west_is_routed_on_the_source_host_and_tunnelled_with_its_dvr_mac():
    sim = cloud("dvr")
    model, _ = sim.control.cloud()
    trace = sim.send("vm1", "vm2")
    got = delivered(trace, "vm2")
    assert len(got) == 1 and got[0].src == sim.kernel.netns("vm1").links["eth0"].addrs[0].local
    path = namespaces_of(trace, first_pid(trace, "vm1"))
    router_ns = [ns for ns in path if ":qrouter-" in ns]
    assert router_ns and all(
        ns.startswith("compute1:") for ns in router_ns
    )  # routed on the source host
    assert not any(ns.startswith("network1") for ns in path)  # never visits the network host
    on_tunnel = [f for _vni, f in tunnel_frames(trace, "compute1") if not isinstance(f, ArpMessage)]
    assert on_tunnel[0].smac == model.hosts["compute1"].dvr_mac
    assert got[0].smac == _gateway_mac(sim, "red")  # delivered with the gateway MAC
    reply = delivered(trace, "vm1")
    assert len(reply) == 1
    back = [f for _vni, f in tunnel_frames(trace, "compute2") if not isinstance(f, ArpMessage)]
    assert back[0].smac == model.hosts["compute2"].dvr_mac  # the reply is routed on compute2


def test_legacy_router_takes_everything_through_the_network_host():
    sim = cloud("legacy")
    trace = sim.send("vm1", "vm2")
    assert len(delivered(trace, "vm2")) == 1
    path = namespaces_of(trace, first_pid(trace, "vm1"))
    router_ns = [ns for ns in path if ":qrouter-" in ns]
    assert router_ns and all(ns.startswith("network1:") for ns in router_ns)
    assert "compute1" in _hosts(path) and "compute2" in _hosts(path)
    model, _ = sim.control.cloud()
    dvr_macs = {h.dvr_mac for h in model.hosts.values()}
    frames = [f for _v, f in tunnel_frames(trace, "network1") if not isinstance(f, ArpMessage)]
    assert frames and not {f.smac for f in frames} & dvr_macs  # no DVR MAC rewriting


def test_floating_ip_both_ways_through_the_compute_hosts_fip_namespace():
    sim = cloud("dvr")
    model, _ = sim.control.cloud()
    fip = next(f.floating_ip for f in model.floatingips.values())
    fixed = sim.address_of("vm3")
    inbound = sim.send("internet", fip, "tcp", dport=80)
    seen = delivered(inbound, "vm3")
    assert len(seen) >= 1 and _ip(seen[0].src) == "203.0.113.10" and _ip(seen[0].dst) == fixed
    replies = delivered(inbound, "internet")
    assert replies and _ip(replies[0].src) == fip  # the outside sees the floating IP
    path = namespaces_of(inbound, first_pid(inbound, "internet"))
    assert any(ns.startswith("compute1:fip-") for ns in path)
    assert any(ns.startswith("compute1:qrouter-") for ns in path)
    assert not any(ns.startswith("network1") for ns in path)
    dnat = [
        s
        for s in inbound.steps
        if s.ns.startswith("compute1:qrouter-") and s.kind == "nat" and "PREROUTING" in s.text
    ]
    assert dnat and fixed in dnat[0].text
    neighbours = sim.kernel.netns("upstream").ip("neigh show")
    fg = next(
        p for p in model.ports.values() if p.device_owner == "network:floatingip_agent_gateway"
    )
    assert f"{fip} dev eth-ex lladdr {fg.mac}" in neighbours  # proxy ARP on fg- answered
    outbound = sim.send("vm3", "internet", "tcp", dport=80, sport=41000)
    got = delivered(outbound, "internet")
    assert got and _ip(got[0].src) == fip


def test_no_floating_ip_leaves_by_snat_on_the_network_host():
    sim = cloud("dvr")
    model, _ = sim.control.cloud()
    router = next(iter(model.routers.values()))
    gateway_ip = model.ports[router.gw_port_id].fixed_ips[0][1]
    trace = sim.send("vm1", "internet", "tcp", dport=80)
    seen = delivered(trace, "internet")
    assert seen and _ip(seen[0].src) == gateway_ip
    out = namespaces_of(trace, first_pid(trace, "vm1"))
    assert any(ns.startswith("network1:snat-") for ns in out)
    reply = delivered(trace, "vm1")
    assert reply and _ip(reply[0].src) == "203.0.113.10"
    back = namespaces_of(trace, first_pid(trace, "internet"))
    assert any(ns.startswith("network1:snat-") for ns in back)


def test_arp_for_the_gateway_never_crosses_a_tunnel():
    sim = cloud("dvr")
    gateway = "10.0.1.1"
    trace = sim.send("vm1", "vm2")
    asked = [s for s in trace.steps if s.ns == "compute1" and f"who-has {gateway}" in s.text]
    assert asked  # vm1 did ask
    for host in ("compute1", "compute2", "network1"):
        for arp in arp_frames(tunnel_frames(trace, host)):
            assert _ip(arp.tip) != gateway


def test_networks_without_a_router_are_isolated_and_same_cidrs_work_behind_two_routers():
    sim = cloud("two-projects")
    assert delivered(sim.send("lonely", "a1"), "a1") == []
    assert delivered(sim.send("a1", "lonely"), "lonely") == []
    for src, dst in (("a1", "a2"), ("b1", "b2")):
        assert len(delivered(sim.send(src, dst), dst)) == 1, (src, dst)
    for vm in ("a1", "b1", "a2"):
        got = delivered(sim.send(vm, "internet", "tcp", dport=80, sport=42000), "internet")
        assert got, vm
    b2_fip = next(f.floating_ip for f in sim.control.cloud()[0].floatingips.values())
    got = delivered(sim.send("internet", b2_fip, "tcp", dport=80), "b2")
    assert got and _ip(got[0].dst) == "10.0.0.11"
    # a1 and b1 share compute1 and an address: each reaches its own neighbour only
    assert [p for p in delivered(sim.send("a1", "10.0.0.11"), "a2")]
    assert not delivered(sim.send("a1", "10.0.0.11"), "b2")


def _ip(value) -> str:
    from neutrino.kernel.inet import fmt

    return fmt(value) if isinstance(value, int) else value


def test_ha_router_snat_runs_on_the_vrrp_master_and_waits_on_the_backup():
    sim = cloud("ha")
    rid = sim.control.ids["router:r1"]
    trace = sim.send("vm1", "internet", "tcp", dport=80)
    assert delivered(trace, "internet")
    pid = first_pid(trace, "vm1")
    path = namespaces_of(trace, pid)
    assert f"network1:snat-{rid}" in path
    # the compute host sends the sg- MAC's frames to both instances (no server round trip
    # at failover): the backup, which holds no address and no route, drops its copy
    backup = [s for s in trace.steps if s.pid == pid and s.ns.startswith("network2")]
    assert backup and backup[-1].kind == "drop" and "no route" in backup[-1].text, backup[-1:]
    assert not any(s.kind == "forward" for s in backup)
    for host, master in (("network1", True), ("network2", False)):
        (vrrp,) = sim.states[host].vrrp
        assert vrrp.vrid >= 1 and len(vrrp.vips) == 2
        addrs = sim.kernel.netns(f"{host}:snat-{rid}").ip("addr show")
        assert (vrrp.vips[0][0] in addrs) is master, addrs
    priorities = {h: sim.states[h].vrrp[0].priority for h in ("network1", "network2")}
    assert priorities["network1"] > priorities["network2"]


def test_legacy_ha_router_routes_and_nats_on_the_master_only():
    sim = cloud("legacy-ha")
    rid = sim.control.ids["router:r1"]
    model, _ = sim.control.cloud()
    fip = next(f.floating_ip for f in model.floatingips.values())
    for src, dst, to in (
        ("vm1", "vm2", "vm2"),
        ("vm1", "internet", "internet"),
        ("internet", fip, "vm3"),
    ):
        trace = sim.send(src, dst, "tcp", dport=80)
        assert delivered(trace, to), (src, dst)
        pid = first_pid(trace, src)
        forwarded = {s.ns for s in trace.steps if s.pid == pid and s.kind == "forward"}
        assert f"network1:qrouter-{rid}" in forwarded, forwarded
        assert not any(ns.startswith("network2") for ns in forwarded), forwarded
    for host, master in (("network1", True), ("network2", False)):
        (vrrp,) = sim.states[host].vrrp
        assert vrrp.interface.startswith("ha-")
        addrs = sim.kernel.netns(f"{host}:qrouter-{rid}").ip("-4 addr show")
        # the qr- gateway addresses and the floating IP are the VRRP instance's
        assert ("10.0.1.1/24" in addrs) is master and ("10.0.2.1/24" in addrs) is master
        assert (f"{fip}/32" in addrs) is master
        assert "169.254.192." in addrs  # each instance's own address on the HA network
