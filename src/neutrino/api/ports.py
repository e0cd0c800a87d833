"""Ports: the API's side (parse, policy, render) of binding to a host and their lifecycle.

MAC and fixed IP allocation, creating and removing a port's rows live in
`network.ports`. Ports a router or a floating IP owns are changed only through
those resources.
"""

from collections.abc import Sequence

from sqlalchemy import or_, select

from ..db import schema
from ..network import errors, ipam
from ..network.errors import InvalidInput
from ..network.owners import ROUTER_OWNERS, owned_by_network
from ..network.ports import allocate, fixed_ips_of, insert_port, remove_port, replace_fixed_ips
from . import networks, security_groups
from .attrs import Attr, boolean, mac_address, parse_body, spec, string, uuid_str
from .common import filtered, owns, require_writer, save, standard

T = schema.ports
A = schema.ipallocations


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


def view(row, fixed_ips: list[dict], groups: Sequence[str] = ()) -> dict:
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
    elif owned_by_network(device_owner):
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
        replace_fixed_ips(tx, row, values["fixed_ips"])
    if "security_groups" in values:
        groups = security_groups.check_port_groups(
            tx, ctx, row.project_id, values["security_groups"]
        )
        security_groups.set_port_groups(tx, port_id, groups)
    save(tx, T, row, columns, "port")
    return show(tx.conn, ctx, port_id)


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
