"""One real lab (2 computes, 1 network node, no agents): what `lab up` builds and `lab boot` wires."""

import json
import os

import pytest
from lab_support import in_ns, link, netns_of, routes, sh, with_prefix
from typer.testing import CliRunner

from neutrino.kernel.inet import fmt
from neutrino.lab import vms
from neutrino.lab.api import LabApi
from neutrino.lab.build import up
from neutrino.lab.cli import lab_app
from neutrino.lab.ovs import answers, ofctl, vsctl
from neutrino.lab.topology import LabError, tap_name
from neutrino.sim.cloud import SimCloud
from neutrino.sim.topology import Topology as SimTopology


def test_every_namespace_is_there(lab):
    p = lab.prefix
    expected = [f"{p}{n}" for n in ("fabric", "upstream", "internet", "compute1", "compute2")]
    assert with_prefix(p) == sorted([*expected, f"{p}network1"])


def test_each_host_runs_its_own_open_vswitch_with_br_ex(lab):
    for host in lab.topology.hosts:
        d = lab.ovs_dir(host.name)
        assert answers(d), host.name
        ns = lab.topology.ns(host.name)
        for daemon in ("ovsdb-server", "ovs-vswitchd"):
            proc = lab.proc(f"{daemon}-{host.name}")
            assert proc.alive()
            assert netns_of(proc.pid) == os.stat(f"/run/netns/{ns}").st_ino
        assert vsctl(d, "list-ports", "br-ex").split() == ["eth-ex"]
        bridge = vsctl(d, "get", "bridge", "br-ex", "datapath_type", "fail_mode").split()
        assert bridge == ["netdev", "secure"]
        assert link(ns, "br-ex")["ifname"] == "br-ex"  # netdev's tap: in the host's namespace


def test_hosts_reach_each_other_over_the_underlay(lab):
    ns = lab.topology.ns
    assert in_ns(ns("compute1"), "ping", "-c1", "-W2", "172.30.0.11").returncode == 0
    assert in_ns(ns("compute2"), "ping", "-c1", "-W2", "172.30.0.12").returncode == 0
    assert in_ns(ns("network1"), "ping", "-c1", "-W2", "172.30.0.10").returncode == 0


def test_the_internet_answers_with_the_address_it_sees(lab):
    out = in_ns(lab.topology.ns("upstream"), "curl", "-s", "-m", "5", "http://203.0.113.10/")
    assert out.stdout == "you are 203.0.113.1\n"


def test_upstream_routes_between_external_network_and_internet(lab):
    up_ns = lab.topology.ns("upstream")
    assert in_ns(up_ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert {"dst": "default", "gateway": "203.0.113.1"}.items() <= routes(
        lab.topology.ns("internet")
    )[0].items()


def _addresses(ns: str) -> dict[str, tuple]:
    """A real namespace's devices: name -> (master, IPv4 addresses)."""
    return {
        d["ifname"]: (
            d.get("master"),
            sorted(
                f"{a['local']}/{a['prefixlen']}" for a in d["addr_info"] if a["family"] == "inet"
            ),
        )
        for d in json.loads(sh("ip", "-j", "-n", ns, "addr", "show").stdout)
    }


def _model_addresses(ns) -> dict[str, tuple]:
    return {
        link.name: (
            link.master and link.master.name,
            sorted(f"{fmt(a.local)}/{a.prefixlen}" for a in link.addrs),
        )
        for link in ns.links.values()
    }


def test_the_simulator_models_the_labs_own_devices_and_addresses(lab):
    """The real namespaces against the simulator's World of the same layout: the same
    devices, bridges and addresses; a host's tunnel address on OVS br-phy (eth-tun its
    port) in the lab, on eth-tun in the model."""
    topo = lab.topology
    cloud = SimCloud(SimTopology({h.name: h.mode for h in topo.hosts}))
    try:
        assert cloud.world.layout == topo.layout
        model = cloud.world.kernel.namespaces
        for name in ("fabric", "upstream", "internet"):
            assert _addresses(topo.ns(name)) == _model_addresses(model[name]), name
        for h in topo.hosts:
            real, sim = _addresses(topo.ns(h.name)), _model_addresses(model[h.name])
            assert real["br-phy"] == (None, sim["eth-tun"][1]) == (None, [f"{h.tunnel_ip}/24"])
            assert real["eth-tun"][1] == []  # a port of br-phy
            assert {d: real[d] for d in ("lo", "eth-ex")} == {d: sim[d] for d in ("lo", "eth-ex")}
    finally:
        cloud.close()


def test_the_server_answers_and_public_exists(lab):
    api = LabApi.of(lab)
    try:
        net = api.network("public")
        assert net["router:external"] is True
        assert net["provider:network_type"] == "flat"
        assert net["provider:physical_network"] == "public"
        (subnet,) = api.get("/v2.0/subnets", network_id=net["id"])["subnets"]
        assert subnet["cidr"] == "198.51.100.0/24"
        assert subnet["gateway_ip"] == "198.51.100.1"
        assert subnet["allocation_pools"] == [{"start": "198.51.100.10", "end": "198.51.100.250"}]
        assert subnet["enable_dhcp"] is False
        agents = {a["host"]: a for a in api.agents()}
        assert agents["compute1"]["configurations"] == {
            "agent_mode": "dvr",
            "tunnel_ip": "172.30.0.10",
        }
        assert agents["network1"]["configurations"]["agent_mode"] == "dvr_snat"
        assert all(a["alive"] for a in agents.values())
    finally:
        api.close()


def test_clouds_yaml_is_written(lab):
    text = (lab.path / "clouds.yaml").read_text()
    assert "neutrino-lab:" in text and f"auth_url: {lab.url}/v3" in text


def test_a_second_lab_in_the_same_dir_or_prefix_is_refused(lab, tmp_path):
    with pytest.raises(LabError, match="is recorded in"):
        up(1, 0, lab.dir, "tzzzzz-", start_agents=False)
    with pytest.raises(LabError, match="another lab uses it"):
        up(1, 0, tmp_path, lab.prefix, start_agents=False)


@pytest.fixture(scope="module")
def blue(lab):
    api = LabApi.of(lab)
    try:
        net = api.post("/v2.0/networks", {"network": {"name": "blue"}})["network"]
        api.post(
            "/v2.0/subnets",
            {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}},
        )
        return net
    finally:
        api.close()


def test_boot_makes_a_bound_port_and_a_vm_wired_to_it(lab, blue):
    vm = vms.boot(lab.dir, "web1", "blue", host="compute2", ip="10.0.0.42")
    api = LabApi.of(lab)
    try:
        port = api.get(f"/v2.0/ports/{vm.port_id}")["port"]
    finally:
        api.close()
    assert port["binding:host_id"] == "compute2"
    assert port["device_owner"] == "compute:nova"
    assert port["device_id"] == "web1"
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.42"

    vm_ns, host_ns = f"{lab.prefix}vm-web1", f"{lab.prefix}compute2"
    eth0 = link(vm_ns, "eth0")
    assert eth0["address"] == port["mac_address"]
    assert eth0["mtu"] == 1450 and "UP" in eth0["flags"]
    tap = link(host_ns, tap_name(port["id"]))
    assert tap["mtu"] == 1450 and "UP" in tap["flags"]
    assert tap["ifindex"] == eth0["link_index"]  # the two ends of one veth
    addrs = in_ns(vm_ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
    assert "inet 10.0.0.42/24" in addrs
    default = [r for r in routes(vm_ns) if r["dst"] == "default"]
    assert default == [{"dst": "default", "gateway": "10.0.0.1", "dev": "eth0", "flags": []}]
    out = in_ns(vm_ns, "curl", "-s", "-m", "5", "http://10.0.0.42/")
    assert out.stdout == "you are 10.0.0.42\n"


def test_boot_picks_the_compute_with_fewest_vms(lab, blue):
    assert vms.default_host(vms.load_running(lab.dir)) == "compute1"
    vm = vms.boot(lab.dir, "web2", "blue")
    assert vm.host == "compute1" and vm.ip.startswith("10.0.0.")


def test_boot_errors_say_what_to_do(lab, blue):
    with pytest.raises(LabError, match="no network 'nope'; networks are: blue, public"):
        vms.boot(lab.dir, "x1", "nope")
    with pytest.raises(LabError, match="host 'compute9' is not in the lab"):
        vms.boot(lab.dir, "x1", "blue", host="compute9")
    with pytest.raises(LabError, match="VM name 'Bad Name'"):
        vms.boot(lab.dir, "Bad Name", "blue")


def test_exec_runs_in_the_named_namespace(lab, blue):
    vms.boot(lab.dir, "web3", "blue")
    out = vms.run_in(lab.dir, "web3", ["ip", "-o", "link", "show", "eth0"])
    assert "mtu 1450" in out.stdout
    out = vms.run_in(lab.dir, "internet", ["ip", "-4", "-o", "addr", "show", "eth0"])
    assert "203.0.113.10/24" in out.stdout
    with pytest.raises(LabError, match="not in the lab"):
        vms.run_in(lab.dir, "mars", ["true"])


def test_status_shows_hosts_processes_and_vms(lab, blue):
    if "web1" not in vms.load_running(lab.dir).vms:
        vms.boot(lab.dir, "web1", "blue", host="compute2", ip="10.0.0.42")
    result = CliRunner().invoke(lab_app, ["status", "--dir", lab.dir])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"server    {lab.url}  pid" in out and "alive" in out
    assert "compute1   dvr      172.30.0.10   netns yes  ovs answers" in out
    assert "network1   dvr_snat 172.30.0.12" in out
    assert "agent not started  registered alive" in out
    assert "web1       compute2   10.0.0.42/24" in out
    assert "netns yes  web pid" in out
    assert "DEAD" not in out


def test_delete_removes_the_vm_and_its_port(lab, blue):
    vm = vms.boot(lab.dir, "gone", "blue")
    vms.delete(lab.dir, "gone")
    assert f"{lab.prefix}vm-gone" not in with_prefix(lab.prefix)
    api = LabApi.of(lab)
    try:
        assert api.get("/v2.0/ports", id=vm.port_id)["ports"] == []
    finally:
        api.close()


def test_tcp_crosses_a_netdev_bridge_the_fabric_and_upstream(lab):
    """Standing in for the agent (the VM's tap on br-ex, one NORMAL flow): TCP both ways,
    also in full-size segments (no partial checksums, no TSO out of the lab's veths)."""
    vm = vms.boot(lab.dir, "edge", "public", host="compute1", ip="198.51.100.30")
    d, tap = lab.ovs_dir("compute1"), tap_name(vm.port_id)
    vsctl(d, "add-port", "br-ex", tap)
    ofctl(d, "add-flow", "br-ex", "cookie=0x1ab,actions=NORMAL")
    try:
        curl = ("curl", "-s", "-m", "5")
        out = in_ns(vm.netns, *curl, "http://203.0.113.10/").stdout
        assert out == "you are 198.51.100.30\n"
        internet = lab.topology.ns("internet")
        out = in_ns(internet, *curl, "http://198.51.100.30/").stdout
        assert out == "you are 203.0.113.10\n"
        out = in_ns(internet, *curl, "-o", "/dev/null", "-w", "%{size_download}",
                    "http://198.51.100.30/bytes/3000000").stdout  # fmt: skip
        assert out == "3000000"
    finally:
        ofctl(d, "del-flows", "br-ex", "cookie=0x1ab/-1")
        vsctl(d, "del-port", "br-ex", tap)
        vms.delete(lab.dir, "edge")
