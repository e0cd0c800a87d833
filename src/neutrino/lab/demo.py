"""`neutrino demo`: a cloud on this machine, made through the API, with real packets.

The lab comes up (two compute hosts, a network host, an upstream router and
`internet`), then the demo does what a user of the cloud would: two tenant
networks, a distributed router with a gateway to `public`, three VMs on two
compute hosts, a floating IP. Then pings, a traceroute and HTTP requests, each
with what the packet went through, told from the same state in the model. The
lab stays up at the end for you to look at; the demo says how to take it down.
"""

import time
from pathlib import Path

from ..kernel.tools import traceroute
from ..layout import INTERNET
from ..sim.explain import path_summary
from ..sim.snapshot import world_from_api
from . import vms
from .api import LabApi
from .build import up
from .state import load
from .topology import LabError


def _wait(what: str, condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise LabError(f"timed out waiting for {what}")


def run_cloud_demo(directory: str | Path, prefix: str, write=print) -> int:
    directory = Path(directory)
    write("1. A cloud on this machine: every host a network namespace with its own Open vSwitch")
    up(2, 1, directory, prefix, start_agents=True, say=lambda line: write(f"   {line}"))
    state = load(directory)
    api = LabApi.of(state)
    try:
        return _play(directory, state, api, write)
    finally:
        api.close()


def _play(directory: Path, state, api: LabApi, write) -> int:
    write("\n2. A tenant's network, made through the Neutron API (as `openstack` would)")
    subnets = {}
    for name, cidr in (("blue", "10.0.1.0/24"), ("red", "10.0.2.0/24")):
        net = api.post("/v2.0/networks", {"network": {"name": name}})["network"]
        sub = api.post(
            "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr, "name": name}}
        )
        subnets[name] = sub["subnet"]["id"]
        write(f"   network {name} with subnet {cidr}")
    public = api.network("public")
    router = api.post(
        "/v2.0/routers",
        {"router": {"name": "r1", "external_gateway_info": {"network_id": public["id"]}}},
    )["router"]
    for sub in subnets.values():
        api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub})
    gateway = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    write(f"   router r1 (distributed) joins them, with a gateway {gateway} on public")
    for vm, net, host in (
        ("vm1", "blue", "compute1"),
        ("vm2", "red", "compute2"),
        ("vm3", "red", "compute1"),
    ):
        booted = vms.boot(directory, vm, net, host=host)
        write(f"   {vm} on {host}: {booted.ip} on {net}")
    state = load(directory)
    fip = api.post(
        "/v2.0/floatingips",
        {
            "floatingip": {
                "floating_network_id": public["id"],
                "port_id": state.vms["vm3"]["port_id"],
            }
        },
    )["floatingip"]
    fip_ip = fip["floating_ip_address"]
    write(f"   floating IP {fip_ip} for vm3")
    for vm in ("vm1", "vm2", "vm3"):
        port = state.vms[vm]["port_id"]
        _wait(
            f"{vm}'s port", lambda p=port: api.get(f"/v2.0/ports/{p}")["port"]["status"] == "ACTIVE"
        )
    write("   the agents have built it: every port is ACTIVE")
    ip = {vm: state.vms[vm]["ip"] for vm in state.vms}
    for target in (ip["vm2"], INTERNET):  # east-west, and out through the network host
        _wait(
            f"vm1 to reach {target}",
            lambda t=target: (
                vms.run_in(directory, "vm1", ["ping", "-c", "1", "-W", "1", t]).returncode == 0
            ),
        )
    world, _ = world_from_api(api)

    write(f"\n3. East-west: vm1 ({ip['vm1']}, compute1) pings vm2 ({ip['vm2']}, compute2)")
    out = vms.run_in(directory, "vm1", ["ping", "-c", "3", "-i", "0.2", ip["vm2"]]).stdout
    write("   " + out.strip().splitlines()[-2])
    write("   Routed by r1 on compute1 itself, then through the VXLAN tunnel to compute2 with")
    write("   compute1's DVR MAC as source; the network host never sees it. In the model:")
    write(_indent(path_summary(world.send("vm1", "vm2"))))

    write(f"4. North-south without a floating IP: traceroute from vm1 to {INTERNET}")
    real = vms.run_in(directory, "vm1", ["traceroute", "-n", "-q", "1", "-w", "1", INTERNET]).stdout
    write(_indent(real))
    write("   Hop 1 is r1 on compute1; its per-subnet rule sends the packet to the SNAT port")
    write("   (hop 2) on network1, which translates it to the router's gateway address. The")
    write("   model, from the same state, gives:")
    write(_indent(traceroute(world.kernel, "vm1", INTERNET, max_hops=8, queries=1).text()))
    seen = vms.run_in(
        directory, "vm1", ["curl", "-s", "-m", "5", f"http://{INTERNET}/"]
    ).stdout.strip()
    write(f'   HTTP from vm1 to {INTERNET}: the server says "{seen}" (the router\'s gateway)')

    write(f"\n5. A floating IP: from internet to {fip_ip} (vm3), and from vm3 out")
    seen = vms.run_in(
        directory, "internet", ["curl", "-s", "-m", "5", f"http://{fip_ip}/"]
    ).stdout.strip()
    write(f"   vm3's web server says \"{seen}\": DNAT on compute1, in r1's namespace there")
    seen = vms.run_in(
        directory, "vm3", ["curl", "-s", "-m", "5", f"http://{INTERNET}/"]
    ).stdout.strip()
    write(f'   internet says "{seen}": vm3 leaves from its floating IP, straight from compute1')
    write(_indent(path_summary(world.send("internet", fip_ip, "tcp", dport=80))))

    write("6. Now yours to look at")
    write(
        f"   export OS_CLIENT_CONFIG_FILE={directory}/clouds.yaml OS_CLOUD=neutrino-lab; openstack router show r1"
    )
    write(f"   neutrino lab exec vm1 --dir {directory} -- ping {ip['vm2']}")
    write(f"   neutrino trace --lab {directory} --from vm1 --to {INTERNET} --proto tcp --dport 80")
    write(f"   neutrino lab down --dir {directory}      (takes everything away)")
    return 0


def _indent(text: str) -> str:
    return "\n".join(f"     {line}" for line in text.rstrip().splitlines()) + "\n"
