"""Ports: MAC and fixed IP allocation, binding to a host, and their lifecycle.

Addresses come from the network's IPv4 subnets (the lowest free one in the pools)
or as requested. Allocations on one subnet queue up on the subnet's row lock; a
unique key on (subnet, address) and on the MAC backs that up: a writer that loses
a race runs its transaction again. Ports a router or a
floating IP owns are changed only through those resources.
"""

import random
from ipaddress import IPv4Address

from sqlalchemy import delete, insert, or_, select
from sqlalchemy import update as sql_update

from .. import ipam
from ..db import schema
from ..ipam import InvalidInput
from . import errors, networks, security_groups
from .attrs import Attr, boolean, mac_address, parse_body, spec, string, uuid_str
from .common import filtered, get_row, new_id, owns, require_writer, save, standard

T = schema.ports
A = schema.ipallocations
S = schema.subnets

ROUTER_OWNERS = (
    "network:router_interface",
    "network:router_interface_distributed",
    "network:router_gateway",
    "network:router_centralized_snat",
    "network:ha_router_replicated_interface",
    "network:floatingip",
    "network:floatingip_agent_gateway",
)
MAC_PREFIX = "fa:16:3e"


def _fixed_ips(value):
    if not isinstance(value, list):
        raise InvalidInput(f"Invalid data format for fixed IP: '{value}'")
    out = []
    for item in value:
        if not isinstance(item, dict) or not item or set(item) - {"subnet_id", "ip_address"}:
            raise InvalidInput(
                f"Invalid data format for fixed IP: '{item}'; give subnet_id and/or ip_address"
            )
        req = {}
        if "subnet_id" in item:
            req["subnet_id"] = uuid_str(item["subnet_id"])
        if "ip_address" in item:
            req["ip_address"] = str(ipam.parse_ip(item["ip_address"]))
        if req in out:
            raise InvalidInput(f"Duplicate IP address '{item}'")
        out.append(req)
    return out


def _profile(value):
    if not isinstance(value, dict):
        raise InvalidInput(f"'{value}' is not a dictionary")
    return value


ATTRS = spec(
    Attr("name", post=True, put=True, check=string(255), column="name"),
    Attr("network_id", post=True, check=uuid_str, column="network_id"),
    Attr(
        "admin_state_up", post=True, put=True, check=boolean, column="admin_state_up", kind="bool"
    ),
    Attr("mac_address", post=True, put=True, check=mac_address, column="mac_address"),
    Attr("fixed_ips", post=True, put=True, check=_fixed_ips),
    Attr("device_id", post=True, put=True, check=string(255), column="device_id"),
    Attr("device_owner", post=True, put=True, check=string(255), column="device_owner"),
    Attr("status", column="status"),
    Attr(
        "binding:host_id",
        post=True,
        put=True,
        check=string(255),
        admin_only=True,
        admin_view=True,
        column="host_id",
    ),
    Attr("binding:vnic_type", post=True, put=True, check=lambda v: _vnic(v), admin_view=False),
    Attr(
        "binding:profile",
        post=True,
        put=True,
        check=_profile,
        admin_only=True,
        admin_view=True,
        filter=False,
    ),
    Attr("binding:vif_type", admin_view=True),
    Attr("binding:vif_details", admin_view=True, filter=False),
    security_groups.port_attr,
)


def _vnic(value):
    if value != "normal":
        raise InvalidInput(
            f"'{value}' is not in ['normal']; neutrino wires normal (OVS) ports only"
        )
    return value


def view(row, fixed_ips: list[dict], groups: list[str] = ()) -> dict:
    bound = bool(row.host_id)
    return {
        "id": row.id,
        "name": row.name,
        "network_id": row.network_id,
        "mac_address": row.mac_address,
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "device_id": row.device_id,
        "device_owner": row.device_owner,
        "fixed_ips": fixed_ips,
        "security_groups": list(groups),
        "binding:host_id": row.host_id,
        "binding:vnic_type": "normal",
        "binding:profile": {},
        "binding:vif_type": "ovs" if bound else "unbound",
        "binding:vif_details": {"port_filter": True, "ovs_hybrid_plug": False} if bound else {},
        **standard(row),
    }


def fixed_ips_of(conn, port_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {p: [] for p in port_ids}
    if not port_ids:
        return out
    for chunk in range(0, len(port_ids), 500):
        part = port_ids[chunk : chunk + 500]
        for port_id, subnet_id, ip in conn.execute(
            select(A.c.port_id, A.c.subnet_id, A.c.ip_address).where(A.c.port_id.in_(part))
        ):
            out[port_id].append({"subnet_id": subnet_id, "ip_address": ip})
    for ips in out.values():
        ips.sort(key=lambda f: IPv4Address(f["ip_address"]))
    return out


def _visible_query(ctx):
    query = select(T)
    if not ctx.is_admin:
        n = schema.networks
        query = query.join(n, n.c.id == T.c.network_id).where(
            or_(T.c.project_id == ctx.project_id, n.c.project_id == ctx.project_id)
        )
    return query


def fetch(conn, ctx, port_id: str):
    row = conn.execute(_visible_query(ctx).where(T.c.id == port_id)).first()
    if row is None:
        raise errors.not_found("Port", port_id)
    return row


def show(conn, ctx, port_id: str) -> dict:
    row = fetch(conn, ctx, port_id)
    groups = security_groups.groups_of(conn, [row.id])[row.id]
    return view(row, fixed_ips_of(conn, [row.id])[row.id], groups)


def list_views(
    conn, ctx, columns: dict[str, list], fixed_ip_filter: list[str] | None
) -> list[dict]:
    query = _visible_query(ctx)
    query = filtered(query, T, columns)
    if fixed_ip_filter:
        ips = [v.partition("=")[2] for v in fixed_ip_filter if v.startswith("ip_address=")]
        subs = [v.partition("=")[2] for v in fixed_ip_filter if v.startswith("subnet_id=")]
        if ips or subs:
            sub = select(A.c.port_id)
            if ips:
                sub = sub.where(A.c.ip_address.in_(ips))
            if subs:
                sub = sub.where(A.c.subnet_id.in_(subs))
            query = query.where(T.c.id.in_(sub))
    rows = conn.execute(query).all()
    ips_by_port = fixed_ips_of(conn, [r.id for r in rows])
    groups = security_groups.groups_of(conn, [r.id for r in rows])
    return [view(r, ips_by_port[r.id], groups[r.id]) for r in rows]


# --- allocation --------------------------------------------------------------------


def new_mac(conn) -> str:
    for _ in range(100):
        mac = MAC_PREFIX + "".join(f":{random.randrange(256):02x}" for _ in range(3))
        if conn.execute(select(T.c.id).where(T.c.mac_address == mac)).first() is None:
            return mac
    raise errors.conflict("MacAddressGenerationFailure", "Unable to generate unique mac")


def _subnets(conn, network_id: str) -> list:
    return conn.execute(
        select(S).where(S.c.network_id == network_id).order_by(S.c.created_at, S.c.id)
    ).all()


def _used(conn, subnet_id: str) -> set[str]:
    return set(conn.execute(select(A.c.ip_address).where(A.c.subnet_id == subnet_id)).scalars())


def _take_free(tx, subnet) -> str | None:
    pools = ipam.pools_from_json(subnet.allocation_pools)
    addr = ipam.pick_free(pools, _used(tx.conn, subnet.id))
    return None if addr is None else str(addr)


def _lock(tx, subnets: list) -> None:
    """Take the subnets' row locks (PostgreSQL) so allocations on one subnet queue up.

    SQLite runs one writer at a time anyway. The unique key on (subnet, address)
    still guards against anything that slips past.
    """
    if not tx.serialized and subnets:
        ids = sorted(s.id for s in subnets)
        tx.execute(select(S.c.id).where(S.c.id.in_(ids)).order_by(S.c.id).with_for_update())


def allocate(tx, network_id: str, requests: list[dict] | None):
    """The (subnet_id, address) pairs for a new port's fixed_ips request.

    None asks for one address from the network's first subnet with room; [] for none.
    """
    subnets = _subnets(tx.conn, network_id)
    _lock(tx, subnets)
    by_id = {s.id: s for s in subnets}
    if requests is None:
        for subnet in subnets:
            addr = _take_free(tx, subnet)
            if addr is not None:
                return [(subnet.id, addr)]
        if subnets:
            raise errors.conflict(
                "IpAddressGenerationFailure",
                f"No more IP addresses available on network {network_id}.",
            )
        return []
    out = []
    for req in requests:
        subnet = _subnet_for(req, by_id, subnets, network_id)
        if "ip_address" in req:
            addr = req["ip_address"]
            _check_requested(tx, subnet, addr)
        else:
            addr = _take_free(tx, subnet)
            if addr is None:
                raise errors.conflict(
                    "IpAddressGenerationFailure",
                    f"No more IP addresses available for subnet {subnet.id}.",
                )
        if (subnet.id, addr) in out:
            raise errors.bad_request(f"Duplicate IP address '{addr}' in fixed_ips")
        out.append((subnet.id, addr))
    return out


def _subnet_for(req: dict, by_id: dict, subnets: list, network_id: str):
    if "subnet_id" in req:
        subnet = by_id.get(req["subnet_id"])
        if subnet is None:
            raise errors.bad_request(
                f"Failed to create port on network {network_id}, because fixed_ips "
                f"included invalid subnet {req['subnet_id']}."
            )
        return subnet
    addr = IPv4Address(req["ip_address"])
    for subnet in subnets:
        if addr in ipam.parse_cidr(subnet.cidr):
            return subnet
    raise errors.bad_request(
        f"IP address {addr} is not a valid IP for any subnet on network {network_id}."
    )


def _check_requested(tx, subnet, addr: str) -> None:
    net = ipam.parse_cidr(subnet.cidr)
    ip = IPv4Address(addr)
    first, last = ipam.usable_range(net)
    if ip not in net or not first <= ip <= last:
        raise errors.bad_request(
            f"IP address {addr} is not a valid IP for the specified subnet {subnet.id} ({net})."
        )
    if addr in _used(tx.conn, subnet.id):
        raise errors.conflict(
            "IpAddressAlreadyAllocated",
            f"IP address {addr} already allocated in subnet {subnet.id}",
        )


def insert_port(
    tx,
    *,
    network_id: str,
    project_id: str,
    fixed_ips: list[tuple[str, str]],
    name: str = "",
    mac: str | None = None,
    device_id: str = "",
    device_owner: str = "",
    host_id: str = "",
    admin_state_up: bool = True,
    description: str = "",
    status: str = "DOWN",
) -> str:
    port_id = new_id()
    if mac is None:
        mac = new_mac(tx.conn)
    elif tx.conn.execute(select(T.c.id).where(T.c.mac_address == mac)).first() is not None:
        raise errors.conflict(
            "MacAddressInUse",
            f"Unable to complete operation for network {network_id}. "
            f"The mac address {mac} is in use.",
        )
    tx.execute(
        insert(T).values(
            id=port_id,
            network_id=network_id,
            project_id=project_id,
            name=name,
            mac_address=mac,
            admin_state_up=admin_state_up,
            status=status,
            device_id=device_id,
            device_owner=device_owner,
            host_id=host_id,
            description=description,
            revision_number=1,
            created_at=tx.now,
            updated_at=tx.now,
        )
    )
    if fixed_ips:
        tx.execute(
            insert(A),
            [
                {"port_id": port_id, "subnet_id": s, "network_id": network_id, "ip_address": ip}
                for s, ip in fixed_ips
            ],
        )
    tx.changed("port", port_id, "create", project_id, 1)
    return port_id


def remove_port(tx, port_id: str) -> None:
    """Delete a port and its addresses; floating IPs on it are disassociated."""
    row = get_row(tx.conn, T, port_id, "Port")
    F = schema.floatingips
    for fip in tx.execute(select(F).where(F.c.port_id == port_id)).all():
        save(
            tx, F, fip, {"port_id": None, "fixed_ip_address": None, "router_id": None}, "floatingip"
        )
    tx.execute(delete(A).where(A.c.port_id == port_id))
    tx.execute(delete(T).where(T.c.id == port_id))
    tx.changed("port", port_id, "delete", row.project_id, row.revision_number)


# --- the API -----------------------------------------------------------------------


def create(tx, ctx, body) -> dict:
    require_writer(ctx, "create_port")
    values = parse_body(body, "port", ATTRS, ctx, "create")
    if "network_id" not in values:
        raise errors.bad_request(
            "Failed to parse request. Required attribute 'network_id' not specified"
        )
    network = networks.fetch(tx.conn, ctx, values["network_id"])
    owner_of_network = owns(ctx, network.project_id)
    if "mac_address" in values and not owner_of_network:
        raise errors.forbidden("create_port:mac_address")
    requests = values.get("fixed_ips")
    if requests and any("ip_address" in r for r in requests) and not owner_of_network:
        raise errors.forbidden("create_port:fixed_ips:ip_address")
    device_owner = values.get("device_owner", "")
    fixed = allocate(tx, network.id, requests)
    port_id = insert_port(
        tx,
        network_id=network.id,
        project_id=values.get("project_id", ctx.project_id),
        fixed_ips=fixed,
        name=values.get("name", ""),
        mac=values.get("mac_address"),
        device_id=values.get("device_id", ""),
        device_owner=device_owner,
        host_id=values.get("binding:host_id", ""),
        admin_state_up=values.get("admin_state_up", True),
        description=values.get("description", ""),
    )
    project_id = values.get("project_id", ctx.project_id)
    if "security_groups" in values:
        groups = security_groups.check_port_groups(tx, ctx, project_id, values["security_groups"])
    elif device_owner.startswith("network:"):
        groups = []  # the network's own ports are not filtered
    else:
        groups = [security_groups.default_group(tx, project_id)]
    security_groups.set_port_groups(tx, port_id, groups)
    return show(tx.conn, ctx, port_id)


def update(tx, ctx, port_id: str, body) -> dict:
    values = parse_body(body, "port", ATTRS, ctx, "update")
    row = fetch(tx.conn, ctx, port_id)
    if not owns(ctx, row.project_id):
        network = networks.fetch(tx.conn, ctx, row.network_id)
        if not owns(ctx, network.project_id):
            raise errors.forbidden("update_port")
    require_writer(ctx, "update_port")
    columns = {}
    for key, col in (
        ("name", "name"),
        ("admin_state_up", "admin_state_up"),
        ("description", "description"),
        ("device_id", "device_id"),
        ("device_owner", "device_owner"),
        ("binding:host_id", "host_id"),
    ):
        if key in values:
            columns[col] = values[key]
    if "mac_address" in values and values["mac_address"] != row.mac_address:
        if not ctx.is_admin:
            raise errors.forbidden("update_port:mac_address")
        if row.host_id:
            raise errors.conflict(
                "PortBound",
                f"Unable to complete operation on port {port_id}: "
                f"its MAC address cannot change while it is bound to host {row.host_id}",
            )
        if tx.conn.execute(select(T.c.id).where(T.c.mac_address == values["mac_address"])).first():
            raise errors.conflict(
                "MacAddressInUse",
                f"Unable to complete operation for network {row.network_id}. "
                f"The mac address {values['mac_address']} is in use.",
            )
        columns["mac_address"] = values["mac_address"]
    if "fixed_ips" in values:
        _replace_fixed_ips(tx, row, values["fixed_ips"])
    if "security_groups" in values:
        groups = security_groups.check_port_groups(
            tx, ctx, row.project_id, values["security_groups"]
        )
        security_groups.set_port_groups(tx, port_id, groups)
    save(tx, T, row, columns, "port")
    return show(tx.conn, ctx, port_id)


def _replace_fixed_ips(tx, row, requests: list[dict]) -> None:
    current = {(f["subnet_id"], f["ip_address"]) for f in fixed_ips_of(tx.conn, [row.id])[row.id]}
    keep = []
    fresh = []
    for req in requests:
        if "ip_address" in req:
            match = [
                c
                for c in current
                if c[1] == req["ip_address"] and req.get("subnet_id", c[0]) == c[0]
            ]
            if match:
                keep.append(match[0])
                continue
        elif "subnet_id" in req:
            match = [c for c in current if c[0] == req["subnet_id"] and c not in keep]
            if match:
                keep.append(match[0])
                continue
        fresh.append(req)
    dropped = current - set(keep)
    for subnet_id, ip in dropped:
        tx.execute(delete(A).where(A.c.subnet_id == subnet_id, A.c.ip_address == ip))
    added = allocate(tx, row.network_id, fresh) if fresh else []
    if added:
        tx.execute(
            insert(A),
            [
                {"port_id": row.id, "subnet_id": s, "network_id": row.network_id, "ip_address": ip}
                for s, ip in added
            ],
        )
    F = schema.floatingips
    for _subnet_id, ip in dropped:
        tx.execute(
            sql_update(F)
            .where(F.c.port_id == row.id, F.c.fixed_ip_address == ip)
            .values(port_id=None, fixed_ip_address=None, router_id=None)
        )


def delete_(tx, ctx, port_id: str) -> None:
    row = fetch(tx.conn, ctx, port_id)
    if not owns(ctx, row.project_id):
        network = networks.fetch(tx.conn, ctx, row.network_id)
        if not owns(ctx, network.project_id):
            raise errors.forbidden("delete_port")
    require_writer(ctx, "delete_port")
    if row.device_owner in ROUTER_OWNERS:
        raise errors.conflict(
            "L3PortInUse",
            f"Port {port_id} has owner {row.device_owner} and therefore cannot be deleted "
            "directly via the port API.",
        )
    remove_port(tx, port_id)
