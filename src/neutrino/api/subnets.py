"""Subnets (IPv4): CIDR, gateway, allocation pools, DNS servers and host routes.

Checks as Neutron's: the CIDR has no host bits and does not overlap another subnet
of the network; the gateway lies in the subnet and outside the pools; pools lie in
the subnet and do not overlap. A subnet with ports on it cannot be deleted.
"""

from ipaddress import IPv4Address

from sqlalchemy import delete, insert, or_, select

from ..db import schema
from ..network import errors, ipam
from ..network.errors import InvalidInput
from . import networks
from .attrs import Attr, boolean, integer, parse_body, spec, string, uuid_str
from .common import (
    bump,
    filtered,
    new_standard,
    owns,
    require_owner,
    require_writer,
    save,
    standard,
)

T = schema.subnets


def _dns(value):
    if not isinstance(value, list):
        raise InvalidInput(f"'{value}' is not a list")
    seen = []
    for v in value:
        ipam.parse_ip(v, "nameserver")
        if v in seen:
            raise InvalidInput(f"Duplicate nameserver '{v}'")
        seen.append(v)
    return seen


def _host_routes(value):
    if not isinstance(value, list):
        raise InvalidInput(f"'{value}' is not a list")
    out = []
    for r in value:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise InvalidInput(f"host route {r!r} must have exactly 'destination' and 'nexthop'")
        ipam.parse_cidr(r["destination"])
        ipam.parse_ip(r["nexthop"], "nexthop")
        if r in out:
            raise InvalidInput(f"Duplicate hostroute '{r}'")
        out.append({"destination": r["destination"], "nexthop": r["nexthop"]})
    return out


def _gateway(value):
    return None if value is None else str(ipam.parse_ip(value, "gateway_ip"))


ATTRS = spec(
    Attr("name", post=True, put=True, check=string(255), column="name"),
    Attr("network_id", post=True, check=uuid_str, column="network_id"),
    Attr("ip_version", post=True, check=integer(4, 6), column="ip_version", kind="int"),
    Attr("cidr", post=True, check=string(64), column="cidr"),
    Attr("gateway_ip", post=True, put=True, check=_gateway, column="gateway_ip"),
    Attr("enable_dhcp", post=True, put=True, check=boolean, column="enable_dhcp", kind="bool"),
    Attr("allocation_pools", post=True, put=True, filter=False),
    Attr("dns_nameservers", post=True, put=True, check=_dns, filter=False),
    Attr("host_routes", post=True, put=True, check=_host_routes, filter=False),
    Attr("subnetpool_id", post=True, filter=True),
    Attr("ipv6_ra_mode", post=True, filter=True),
    Attr("ipv6_address_mode", post=True, filter=True),
    Attr("service_types", filter=False),
    Attr("segment_id", filter=True),
)


def view(row) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "network_id": row.network_id,
        "ip_version": row.ip_version,
        "cidr": row.cidr,
        "gateway_ip": row.gateway_ip,
        "enable_dhcp": row.enable_dhcp,
        "allocation_pools": row.allocation_pools,
        "dns_nameservers": row.dns_nameservers,
        "host_routes": row.host_routes,
        "subnetpool_id": None,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "service_types": [],
        "segment_id": None,
        **standard(row),
    }


def _visible_query(ctx):
    query = select(T)
    if not ctx.is_admin:
        n = schema.networks
        query = query.join(n, n.c.id == T.c.network_id).where(
            or_(T.c.project_id == ctx.project_id, n.c.shared)
        )
    return query


def fetch(conn, ctx, subnet_id: str):
    row = conn.execute(_visible_query(ctx).where(T.c.id == subnet_id)).first()
    if row is None:
        raise errors.not_found("Subnet", subnet_id)
    return row


def show(conn, ctx, subnet_id: str) -> dict:
    return view(fetch(conn, ctx, subnet_id))


def list_views(conn, ctx, columns: dict[str, list]) -> list[dict]:
    query = _visible_query(ctx)
    query = filtered(query, T, columns)
    return [view(r) for r in conn.execute(query)]


def _check_overlap(conn, network_id: str, net, exclude: str | None = None) -> None:
    for other in conn.execute(select(T.c.id, T.c.cidr).where(T.c.network_id == network_id)):
        if other.id != exclude and net.overlaps(ipam.parse_cidr(other.cidr)):
            raise errors.invalid_input(
                f"Requested subnet with cidr: {net} for network: {network_id} "
                f"overlaps with another subnet"
            )


def _pools_and_gateway(net, gateway: IPv4Address | None, pools_value, gateway_given: bool):
    try:
        if gateway is not None:
            ipam.check_gateway(net, gateway)
        if pools_value is None:
            pools = ipam.default_pools(net, gateway)
        else:
            pools = ipam.parse_pools(pools_value, net)
            ipam.check_gateway_not_in_pools(gateway, pools)
    except InvalidInput as e:
        raise errors.bad_request(str(e)) from None
    return pools


def create(tx, ctx, body) -> dict:
    require_writer(ctx, "create_subnet")
    values = parse_body(body, "subnet", ATTRS, ctx, "create")
    for key in ("network_id", "cidr"):
        if key not in values:
            raise errors.bad_request(
                f"Failed to parse request. Required attribute '{key}' not specified"
            )
    if values.get("ip_version", 4) == 6:
        raise errors.invalid(
            "ip_version", "IPv6 subnets are not supported by neutrino yet; use ip_version 4"
        )
    if values.get("ip_version", 4) != 4:
        raise errors.invalid("ip_version", f"'{values['ip_version']}' is not in [4, 6]")
    for key in ("subnetpool_id", "ipv6_ra_mode", "ipv6_address_mode"):
        if values.get(key) is not None:
            raise errors.invalid(key, f"{key} is not supported by neutrino; leave it unset")
    try:
        net = ipam.parse_cidr(values["cidr"])
    except InvalidInput as e:
        raise errors.invalid("cidr", str(e)) from None
    network = networks.fetch(tx.conn, ctx, values["network_id"], lock=True)
    if not owns(ctx, network.project_id):
        raise errors.forbidden("create_subnet")
    _check_overlap(tx.conn, network.id, net)
    if "gateway_ip" in values:
        gateway = None if values["gateway_ip"] is None else IPv4Address(values["gateway_ip"])
    else:
        gateway = ipam.default_gateway(net)
    pools = _pools_and_gateway(net, gateway, values.get("allocation_pools"), "gateway_ip" in values)
    row = {
        **new_standard(tx, values, ctx),
        "network_id": network.id,
        "name": values.get("name", ""),
        "ip_version": 4,
        "cidr": str(net),
        "gateway_ip": None if gateway is None else str(gateway),
        "enable_dhcp": values.get("enable_dhcp", True),
        "allocation_pools": [p.as_dict() for p in pools],
        "dns_nameservers": values.get("dns_nameservers", []),
        "host_routes": values.get("host_routes", []),
    }
    row["revision_number"] = 0
    tx.execute(insert(T).values(**row))
    tx.changed("subnet", row["id"], "create", row["project_id"], 0)
    bump(tx, schema.networks, network.id, "network")
    return show(tx.conn, ctx, row["id"])


def update(tx, ctx, subnet_id: str, body) -> dict:
    values = parse_body(body, "subnet", ATTRS, ctx, "update")
    row = fetch(tx.conn, ctx, subnet_id)
    require_owner(ctx, row.project_id, "update_subnet")
    net = ipam.parse_cidr(row.cidr)
    columns = {
        k: values[k]
        for k in ("name", "description", "enable_dhcp", "dns_nameservers", "host_routes")
        if k in values
    }
    if "gateway_ip" in values or "allocation_pools" in values:
        gateway = row.gateway_ip
        if "gateway_ip" in values:
            gateway = values["gateway_ip"]
        gw = None if gateway is None else IPv4Address(gateway)
        pools_value = values.get("allocation_pools", row.allocation_pools)
        pools = _pools_and_gateway(net, gw, pools_value, True)
        if "gateway_ip" in values and gateway != row.gateway_ip and gateway is not None:
            used = tx.execute(
                select(schema.ipallocations.c.port_id).where(
                    schema.ipallocations.c.subnet_id == subnet_id,
                    schema.ipallocations.c.ip_address == gateway,
                )
            ).first()
            if used is not None:
                raise errors.conflict(
                    "IpAddressInUse",
                    f"Unable to complete operation for network {row.network_id}. "
                    f"The IP address {gateway} is in use.",
                )
        columns["gateway_ip"] = gateway
        columns["allocation_pools"] = [p.as_dict() for p in pools]
    save(tx, T, row, columns, "subnet")
    return show(tx.conn, ctx, subnet_id)


def delete_(tx, ctx, subnet_id: str) -> None:
    row = fetch(tx.conn, ctx, subnet_id)
    require_owner(ctx, row.project_id, "delete_subnet")
    used = tx.execute(
        select(schema.ipallocations.c.port_id).where(schema.ipallocations.c.subnet_id == subnet_id)
    ).first()
    if used is not None:
        raise errors.conflict(
            "SubnetInUse",
            f"Unable to complete operation on subnet {subnet_id}: "
            "One or more ports have an IP allocation from this subnet.",
        )
    tx.execute(delete(T).where(T.c.id == subnet_id))
    tx.changed("subnet", subnet_id, "delete", row.project_id, row.revision_number)
    bump(tx, schema.networks, row.network_id, "network")
