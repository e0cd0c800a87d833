"""Networks: create, show, list, update, delete, with provider segments.

Tenant networks are VXLAN with the lowest free VNI (a unique key settles races);
admins may ask for flat or vlan on a physical network, or a given segment.
Stored without NULLs in the segment key (physical network "", segment 0) so the
database's unique key covers every kind.
"""

from sqlalchemy import delete, insert, or_, select

from ..db import schema
from ..network import errors
from ..network.errors import InvalidInput
from ..network.owners import FLOATINGIP, ROUTER_GATEWAY
from ..network.segments import MTU, free_vni
from .attrs import Attr, boolean, integer, one_of, parse_body, spec, string
from .common import (
    filtered,
    get_row,
    new_standard,
    require_owner,
    require_writer,
    save,
    standard,
)

T = schema.networks
NETWORK_TYPES = ("vxlan", "vlan", "flat")

ATTRS = spec(
    Attr("name", post=True, put=True, check=string(255), column="name"),
    Attr(
        "admin_state_up", post=True, put=True, check=boolean, column="admin_state_up", kind="bool"
    ),
    Attr(
        "shared", post=True, put=True, check=boolean, admin_only=True, column="shared", kind="bool"
    ),
    Attr(
        "router:external",
        post=True,
        put=True,
        check=boolean,
        admin_only=True,
        column="external",
        kind="bool",
    ),
    Attr("mtu", column="mtu", kind="int"),
    Attr("status", column="status"),
    Attr("subnets", filter=False),
    Attr(
        "provider:network_type",
        post=True,
        check=one_of(*NETWORK_TYPES),
        admin_only=True,
        admin_view=True,
        column="network_type",
    ),
    Attr(
        "provider:physical_network", post=True, check=string(64), admin_only=True, admin_view=True
    ),
    Attr(
        "provider:segmentation_id",
        post=True,
        check=integer(1, 16777215),
        admin_only=True,
        admin_view=True,
        kind="int",
    ),
    Attr("availability_zone_hints", filter=False),
    Attr("availability_zones", filter=False),
    Attr("ipv4_address_scope", filter=False),
    Attr("ipv6_address_scope", filter=False),
    Attr("l2_adjacency", filter=False),
)


def view(row, subnet_ids: list[str]) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "shared": row.shared,
        "router:external": row.external,
        "mtu": row.mtu,
        "subnets": subnet_ids,
        "provider:network_type": row.network_type,
        "provider:physical_network": row.physical_network or None,
        "provider:segmentation_id": row.segmentation_id or None,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        **standard(row),
    }


def visible_clause(ctx):
    if ctx.is_admin:
        return None
    return or_(T.c.project_id == ctx.project_id, T.c.shared, T.c.external)


def can_see(ctx, row) -> bool:
    return ctx.is_admin or row.project_id == ctx.project_id or row.shared or row.external


def fetch(conn, ctx, network_id: str, lock: bool = False):
    row = get_row(conn, T, network_id, "Network", lock)
    if not can_see(ctx, row):
        raise errors.not_found("Network", network_id)
    return row


def subnet_ids(conn, network_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n: [] for n in network_ids}
    if not network_ids:
        return out
    rows = conn.execute(
        select(schema.subnets.c.network_id, schema.subnets.c.id)
        .where(schema.subnets.c.network_id.in_(network_ids))
        .order_by(schema.subnets.c.created_at, schema.subnets.c.id)
    )
    for net, sub in rows:
        out[net].append(sub)
    return out


def show(conn, ctx, network_id: str) -> dict:
    row = fetch(conn, ctx, network_id)
    return view(row, subnet_ids(conn, [row.id])[row.id])


def list_views(conn, ctx, columns: dict[str, list]) -> list[dict]:
    query = select(T)
    clause = visible_clause(ctx)
    if clause is not None:
        query = query.where(clause)
    query = filtered(query, T, columns)
    rows = conn.execute(query).all()
    subs = subnet_ids(conn, [r.id for r in rows])
    return [view(r, subs[r.id]) for r in rows]


def _segment(tx, values: dict) -> tuple[str, str, int]:
    net_type = values.get("provider:network_type", "vxlan")
    physnet = values.get("provider:physical_network") or ""
    seg = values.get("provider:segmentation_id")
    try:
        if net_type == "flat":
            if not physnet:
                raise InvalidInput("flat networks need provider:physical_network")
            if seg is not None:
                raise InvalidInput("flat networks take no provider:segmentation_id")
            return net_type, physnet, 0
        if net_type == "vlan":
            if not physnet:
                raise InvalidInput("vlan networks need provider:physical_network")
            if seg is None or not 1 <= seg <= 4094:
                raise InvalidInput(f"vlan networks need provider:segmentation_id 1-4094, not {seg}")
            return net_type, physnet, seg
        if physnet:
            raise InvalidInput("vxlan networks take no provider:physical_network")
    except InvalidInput as e:
        raise errors.invalid_input(str(e)) from None
    if seg is not None:
        return net_type, "", seg
    return net_type, "", free_vni(tx)


def create(tx, ctx, body) -> dict:
    require_writer(ctx, "create_network")
    values = parse_body(body, "network", ATTRS, ctx, "create")
    net_type, physnet, seg = _segment(tx, values)
    taken = tx.execute(
        select(T.c.id).where(
            T.c.network_type == net_type,
            T.c.physical_network == physnet,
            T.c.segmentation_id == seg,
        )
    ).first()
    if taken is not None and (values.get("provider:segmentation_id") or net_type == "flat"):
        what = f"physical network {physnet}" if net_type == "flat" else f"segmentation id {seg}"
        raise errors.conflict(
            "SegmentationIdInUse" if net_type != "flat" else "FlatNetworkInUse",
            f"Unable to create the {net_type} network. The {what} is in use.",
        )
    row = {
        **new_standard(tx, values, ctx),
        "name": values.get("name", ""),
        "admin_state_up": values.get("admin_state_up", True),
        "shared": values.get("shared", False),
        "external": values.get("router:external", False),
        "mtu": MTU[net_type],
        "status": "ACTIVE",
        "network_type": net_type,
        "physical_network": physnet,
        "segmentation_id": seg,
    }
    tx.execute(insert(T).values(**row))
    tx.changed("network", row["id"], "create", row["project_id"], 1)
    return show(tx.conn, ctx, row["id"])


def update(tx, ctx, network_id: str, body) -> dict:
    values = parse_body(body, "network", ATTRS, ctx, "update")
    row = fetch(tx.conn, ctx, network_id, lock=True)
    require_owner(ctx, row.project_id, "update_network")
    columns = {}
    for key, col in (
        ("name", "name"),
        ("admin_state_up", "admin_state_up"),
        ("description", "description"),
        ("shared", "shared"),
        ("router:external", "external"),
    ):
        if key in values:
            columns[col] = values[key]
    if row.external and columns.get("external") is False:
        in_use = tx.execute(
            select(schema.ports.c.id).where(
                schema.ports.c.network_id == network_id,
                schema.ports.c.device_owner.in_((ROUTER_GATEWAY, FLOATINGIP)),
            )
        ).first()
        if in_use is not None:
            raise errors.conflict(
                "ExternalNetworkInUse",
                f"External network {network_id} cannot be updated to be non-external, "
                "as it has existing gateway ports or floating IPs",
            )
    if row.shared and columns.get("shared") is False:
        others = tx.execute(
            select(schema.ports.c.id).where(
                schema.ports.c.network_id == network_id,
                schema.ports.c.project_id != row.project_id,
                schema.ports.c.project_id != "",
            )
        ).first()
        if others is not None:
            raise errors.conflict(
                "InvalidSharedSetting",
                f"Unable to reconfigure sharing settings for network {network_id}. "
                "Multiple tenants are using it.",
            )
    save(tx, T, row, columns, "network")
    return show(tx.conn, ctx, network_id)


def delete_(tx, ctx, network_id: str) -> None:
    row = fetch(tx.conn, ctx, network_id, lock=True)
    require_owner(ctx, row.project_id, "delete_network")
    port = tx.execute(
        select(schema.ports.c.id).where(schema.ports.c.network_id == network_id)
    ).first()
    if port is not None:
        raise errors.conflict(
            "NetworkInUse",
            f"Unable to complete operation on network {network_id}. "
            "There are one or more ports still in use on the network.",
        )
    for sub in tx.execute(
        select(
            schema.subnets.c.id, schema.subnets.c.project_id, schema.subnets.c.revision_number
        ).where(schema.subnets.c.network_id == network_id)
    ).all():
        tx.execute(delete(schema.subnets).where(schema.subnets.c.id == sub.id))
        tx.changed("subnet", sub.id, "delete", sub.project_id, sub.revision_number)
    tx.execute(delete(T).where(T.c.id == network_id))
    tx.changed("network", network_id, "delete", row.project_id, row.revision_number)
