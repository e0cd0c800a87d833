"""Floating IPs: an address on an external network, associated with a port.

The router is derived, as Neutron does it: the router with a gateway on the
floating IP's network that has an interface on the subnet of the port's fixed IP.
One fixed IP has at most one floating IP per external network.
"""

from sqlalchemy import delete, insert, select

from ..db import schema
from ..network import errors
from ..network.ipam import parse_ip
from ..network.owners import FLOATINGIP, INTERFACE_OWNERS, owned_by_network
from ..network.ports import allocate, fixed_ips_of, insert_port, remove_port
from . import networks, ports
from .attrs import Attr, parse_body, spec, uuid_or_none, uuid_str
from .common import (
    new_standard,
    owned_row,
    owned_rows,
    owns,
    require_writer,
    save,
    standard,
)

T = schema.floatingips
P = schema.ports
A = schema.ipallocations
R = schema.routers


def _ip_or_none(value):
    return None if value is None else str(parse_ip(value))


ATTRS = spec(
    Attr("floating_network_id", post=True, check=uuid_str, column="floating_network_id"),
    Attr("floating_ip_address", post=True, check=_ip_or_none, column="floating_ip_address"),
    Attr("subnet_id", post=True, check=uuid_or_none, filter=False),
    Attr("port_id", post=True, put=True, check=uuid_or_none, column="port_id"),
    Attr("fixed_ip_address", post=True, put=True, check=_ip_or_none, column="fixed_ip_address"),
    Attr("router_id", column="router_id"),
    Attr("status", column="status"),
    Attr("port_details", filter=False),
)


def view(row) -> dict:
    return {
        "id": row.id,
        "floating_network_id": row.floating_network_id,
        "floating_ip_address": row.floating_ip_address,
        "port_id": row.port_id,
        "fixed_ip_address": row.fixed_ip_address,
        "router_id": row.router_id,
        "status": row.status,
        **standard(row),
    }


def fetch(conn, ctx, fip_id: str):
    return owned_row(conn, ctx, T, fip_id, "FloatingIP")


def show(conn, ctx, fip_id: str) -> dict:
    return view(fetch(conn, ctx, fip_id))


def list_views(conn, ctx, columns: dict[str, list]) -> list[dict]:
    return [view(r) for r in owned_rows(conn, ctx, T, columns)]


def _association(tx, ctx, fip_network: str, port_id: str, fixed_ip: str | None, fip_id: str | None):
    """(port_id, fixed_ip, router_id) for associating with this port, checked."""
    port = ports.fetch(tx.conn, ctx, port_id)
    if not owns(ctx, port.project_id):
        raise errors.not_found("Port", port_id)
    if owned_by_network(port.device_owner):
        raise errors.bad_request(
            f"Bad floatingip request: Port {port_id} has owner {port.device_owner}; a floating "
            "IP goes on a VM's port",
            "BadRequest",
        )
    fixed = fixed_ips_of(tx.conn, [port_id])[port_id]
    if fixed_ip is not None:
        match = [f for f in fixed if f["ip_address"] == fixed_ip]
        if not match:
            raise errors.bad_request(
                f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed_ip}.",
                "BadRequest",
            )
    elif len(fixed) == 1:
        match = fixed
    elif not fixed:
        raise errors.bad_request(
            f"Bad floatingip request: Port {port_id} does not have any fixed IPv4 address",
            "BadRequest",
        )
    else:
        raise errors.bad_request(
            f"Bad floatingip request: Port {port_id} has multiple fixed IPv4 addresses. Must "
            "provide a specific IPv4 address when assigning a floating IP",
            "BadRequest",
        )
    subnet_id, address = match[0]["subnet_id"], match[0]["ip_address"]
    router_id = _router_for(tx.conn, fip_network, subnet_id)
    if router_id is None:
        raise errors.ApiError(
            404,
            "ExternalGatewayForFloatingIPNotFound",
            f"External network {fip_network} is not reachable from subnet {subnet_id}.  "
            f"Therefore, cannot associate Port {port_id} with a Floating IP.",
        )
    other = tx.conn.execute(
        select(T.c.id, T.c.floating_ip_address).where(
            T.c.floating_network_id == fip_network,
            T.c.port_id == port_id,
            T.c.fixed_ip_address == address,
        )
    ).first()
    if other is not None and other.id != fip_id:
        raise errors.conflict(
            "FloatingIPPortAlreadyAssociated",
            f"Cannot associate floating IP {other.floating_ip_address} ({other.id}) with port "
            f"{port_id} using fixed IP {address}, "
            f"as that fixed IP already has a floating IP on external network {fip_network}.",
        )
    return port_id, address, router_id


def _router_for(conn, network_id: str, subnet_id: str) -> str | None:
    gw = P.alias("gw")
    rows = (
        conn.execute(
            select(R.c.id)
            .join(gw, gw.c.id == R.c.gw_port_id)
            .join(P, P.c.device_id == R.c.id)
            .join(A, A.c.port_id == P.c.id)
            .where(
                gw.c.network_id == network_id,
                A.c.subnet_id == subnet_id,
                P.c.device_owner.in_(INTERFACE_OWNERS),
            )
            .order_by(R.c.created_at)
        )
        .scalars()
        .all()
    )
    return rows[0] if rows else None


def create(tx, ctx, body) -> dict:
    require_writer(ctx, "create_floatingip")
    values = parse_body(body, "floatingip", ATTRS, ctx, "create")
    if "floating_network_id" not in values:
        raise errors.bad_request(
            "Failed to parse request. Required attribute 'floating_network_id' not specified"
        )
    network = networks.fetch(tx.conn, ctx, values["floating_network_id"])
    if not network.external:
        raise errors.bad_request(
            f"Bad floatingip request: Network {network.id} is not a valid external network.",
            "BadRequest",
        )
    if values.get("floating_ip_address") and not ctx.is_admin:
        raise errors.forbidden("create_floatingip:floating_ip_address")
    request = {}
    if values.get("subnet_id"):
        request["subnet_id"] = values["subnet_id"]
    if values.get("floating_ip_address"):
        request["ip_address"] = values["floating_ip_address"]
    fip = new_standard(tx, values, ctx)
    association = (None, None, None)
    if values.get("port_id"):
        association = _association(
            tx, ctx, network.id, values["port_id"], values.get("fixed_ip_address"), None
        )
    fixed = allocate(tx, network.id, [request] if request else None)
    if not fixed:
        raise errors.bad_request(
            f"Bad floatingip request: Network {network.id} has no IPv4 subnet", "BadRequest"
        )
    port_id = insert_port(
        tx,
        network_id=network.id,
        project_id="",
        fixed_ips=fixed,
        device_id=fip["id"],
        device_owner=FLOATINGIP,
        status="N/A",
    )
    tx.execute(
        insert(T).values(
            **fip,
            floating_network_id=network.id,
            floating_port_id=port_id,
            floating_ip_address=fixed[0][1],
            port_id=association[0],
            fixed_ip_address=association[1],
            router_id=association[2],
            status="DOWN",
        )
    )
    tx.changed("floatingip", fip["id"], "create", fip["project_id"], 1)
    return show(tx.conn, ctx, fip["id"])


def update(tx, ctx, fip_id: str, body) -> dict:
    values = parse_body(body, "floatingip", ATTRS, ctx, "update")
    row = fetch(tx.conn, ctx, fip_id)
    require_writer(ctx, "update_floatingip")
    columns = {}
    if "description" in values:
        columns["description"] = values["description"]
    if "port_id" in values:
        if values["port_id"] is None:
            columns.update(port_id=None, fixed_ip_address=None, router_id=None)
        else:
            port_id, address, router_id = _association(
                tx,
                ctx,
                row.floating_network_id,
                values["port_id"],
                values.get("fixed_ip_address"),
                fip_id,
            )
            columns.update(port_id=port_id, fixed_ip_address=address, router_id=router_id)
    elif values.get("fixed_ip_address") is not None:
        if row.port_id is None:
            raise errors.bad_request(
                "Bad floatingip request: fixed_ip_address needs a port_id", "BadRequest"
            )
        port_id, address, router_id = _association(
            tx, ctx, row.floating_network_id, row.port_id, values["fixed_ip_address"], fip_id
        )
        columns.update(fixed_ip_address=address, router_id=router_id)
    save(tx, T, row, columns, "floatingip")
    return show(tx.conn, ctx, fip_id)


def delete_(tx, ctx, fip_id: str) -> None:
    row = fetch(tx.conn, ctx, fip_id)
    require_writer(ctx, "delete_floatingip")
    tx.execute(delete(T).where(T.c.id == fip_id))
    remove_port(tx, row.floating_port_id)
    tx.changed("floatingip", fip_id, "delete", row.project_id, row.revision_number)
