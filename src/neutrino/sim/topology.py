"""A cloud described in a YAML file, for `neutrino sim` and `neutrino trace --sim`.

    hosts:                       # name: mode (legacy | dvr | dvr_snat)
      compute1: dvr
      compute2: dvr
      network1: dvr_snat
    external: {cidr: 198.51.100.0/24, gateway: 198.51.100.1}
    networks:                    # tenant networks, one IPv4 subnet each
      blue: {cidr: 10.0.1.0/24}
      red: {cidr: 10.0.2.0/24, project: other}
    routers:
      r1: {networks: [blue, red], gateway: true}      # distributed unless told otherwise
      r2: {networks: [...], distributed: false, ha: false, project: other}
    vms:
      vm1: {network: blue, host: compute1}
      vm2: {network: red, host: compute2, ip: 10.0.2.50, floating_ip: true}

Pure data and its checks; `SimCloud` builds it. The world around the hosts (tunnel
addresses, fabric, upstream, internet, the external network unless the file says
otherwise) is `neutrino.layout`'s, the lab's. Every error names the entry and the
value, and says what is allowed.
"""

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import yaml

from ..layout import EXTERNAL_CIDR, EXTERNAL_GATEWAY
from ..modes import AGENT_MODES as MODES


class TopologyError(ValueError):
    """The topology file is not usable; the message says where and why."""


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    cidr: str
    project: str = "demo"


@dataclass(frozen=True)
class RouterSpec:
    name: str
    networks: tuple[str, ...]
    gateway: bool = True
    distributed: bool = True
    ha: bool = False
    project: str = "demo"


@dataclass(frozen=True)
class VmSpec:
    name: str
    network: str
    host: str
    ip: str | None = None
    floating_ip: bool = False


@dataclass(frozen=True)
class Topology:
    hosts: dict[str, str]
    external_cidr: str = EXTERNAL_CIDR
    external_gateway: str = EXTERNAL_GATEWAY
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    routers: dict[str, RouterSpec] = field(default_factory=dict)
    vms: dict[str, VmSpec] = field(default_factory=dict)


def _table(data, where: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TopologyError(f"{where}: expected a mapping of names, got {data!r}")
    return data


def _keys(entry: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise TopologyError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _cidr(value, where: str) -> str:
    try:
        net = IPv4Network(str(value))
    except ValueError:
        raise TopologyError(f"{where}: {value!r} is not an IPv4 CIDR like 10.0.1.0/24") from None
    return str(net)


def parse(data: dict) -> Topology:
    data = _table(data, "topology")
    _keys(data, {"hosts", "external", "networks", "routers", "vms"}, "topology")
    hosts = {}
    for name, mode in _table(data.get("hosts"), "hosts").items():
        if mode not in MODES:
            raise TopologyError(f"hosts.{name}: mode {mode!r} is not one of {', '.join(MODES)}")
        hosts[str(name)] = mode
    if not hosts:
        raise TopologyError("hosts: at least one host is needed")
    ext = _table(data.get("external"), "external")
    _keys(ext, {"cidr", "gateway"}, "external")
    ext_cidr = _cidr(ext.get("cidr", EXTERNAL_CIDR), "external.cidr")
    ext_gw = str(ext.get("gateway", IPv4Network(ext_cidr)[1]))
    if IPv4Address(ext_gw) not in IPv4Network(ext_cidr):
        raise TopologyError(f"external.gateway: {ext_gw} is not in {ext_cidr}")
    networks = {}
    for name, spec in _table(data.get("networks"), "networks").items():
        spec = _table(spec, f"networks.{name}")
        _keys(spec, {"cidr", "project"}, f"networks.{name}")
        if "cidr" not in spec:
            raise TopologyError(f"networks.{name}: needs a cidr")
        networks[name] = NetworkSpec(
            name, _cidr(spec["cidr"], f"networks.{name}.cidr"), str(spec.get("project", "demo"))
        )
    routers = {}
    for name, spec in _table(data.get("routers"), "routers").items():
        spec = _table(spec, f"routers.{name}")
        _keys(spec, {"networks", "gateway", "distributed", "ha", "project"}, f"routers.{name}")
        nets = tuple(spec.get("networks", ()))
        for n in nets:
            if n not in networks:
                raise TopologyError(
                    f"routers.{name}.networks: {n!r} is not a network of this file ({', '.join(networks) or 'none'})"
                )
        for key in ("gateway", "distributed", "ha"):
            if key in spec and not isinstance(spec[key], bool):
                raise TopologyError(f"routers.{name}.{key}: {spec[key]!r} must be true or false")
        routers[name] = RouterSpec(
            name,
            nets,
            spec.get("gateway", True),
            spec.get("distributed", True),
            spec.get("ha", False),
            str(spec.get("project", "demo")),
        )
    vms = {}
    for name, spec in _table(data.get("vms"), "vms").items():
        spec = _table(spec, f"vms.{name}")
        _keys(spec, {"network", "host", "ip", "floating_ip"}, f"vms.{name}")
        if spec.get("network") not in networks:
            raise TopologyError(
                f"vms.{name}.network: {spec.get('network')!r} is not a network of this file ({', '.join(networks) or 'none'})"
            )
        if spec.get("host") not in hosts:
            raise TopologyError(
                f"vms.{name}.host: {spec.get('host')!r} is not a host of this file ({', '.join(hosts)})"
            )
        ip = spec.get("ip")
        if ip is not None:
            try:
                if IPv4Address(str(ip)) not in IPv4Network(networks[spec["network"]].cidr):
                    raise ValueError
            except ValueError:
                raise TopologyError(
                    f"vms.{name}.ip: {ip!r} is not an address in {networks[spec['network']].cidr}"
                ) from None
        vms[name] = VmSpec(
            name,
            spec["network"],
            spec["host"],
            None if ip is None else str(ip),
            bool(spec.get("floating_ip", False)),
        )
    return Topology(hosts, ext_cidr, ext_gw, networks, routers, vms)


def load(path: str | Path) -> Topology:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise TopologyError(f"{path}: no such file") from None
    except yaml.YAMLError as e:
        raise TopologyError(f"{path}: not valid YAML: {e}") from None
    return parse(data)
