"""Routers: gateway on an external network, interfaces, extra routes, DVR and HA.

A router's ports are ordinary ports it owns: `network:router_gateway` on the
external network, one interface per subnet (`network:router_interface`, or
`network:router_interface_distributed` for a distributed router) holding the
subnet's gateway address, and for a distributed router with a gateway one
`network:router_centralized_snat` port per interface subnet (the `sg-` address
the SNAT host answers on).
"""

from ipaddress import IPv4Address

from sqlalchemy import delete, insert, select
from sqlalchemy import update as sql_update

from ..db import schema
from ..network import errors, ipam
from ..network.errors import InvalidInput
from ..network.owners import (
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    ROUTER_INTERFACE_DVR,
    ROUTER_INTERFACES,
    ROUTER_SNAT,
)
from ..network.ports import allocate, fixed_ips_of, insert_port, remove_port, replace_fixed_ips
from . import networks, ports, subnets
from .attrs import Attr, boolean, parse_body, spec, string, uuid_str
from .common import (
    bump,
    get_row,
    new_standard,
    owned_row,
    owned_rows,
    require_writer,
    save,
    standard,
)

T = schema.routers
P = schema.ports
A = schema.ipallocations
F = schema.floatingips


def _gateway_info(value):
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"'{value}' is not a dictionary")
    unknown = set(value) - {"network_id", "enable_snat", "external_fixed_ips"}
    if unknown:
        raise InvalidInput(f"Unexpected keys supplied: {', '.join(sorted(unknown))}")
    if "network_id" not in value:
        raise InvalidInput("external_gateway_info needs network_id")
    out = {"network_id": uuid_str(value["network_id"])}
    if "enable_snat" in value:
        out["enable_snat"] = boolean(value["enable_snat"])
    if "external_fixed_ips" in value:
        out["external_fixed_ips"] = ports._fixed_ips(value["external_fixed_ips"])
    return out


def _routes(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"'{value}' is not a list")
    out = []
    for r in value:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise InvalidInput(f"route {r!r} must have exactly 'destination' and 'nexthop'")
        ipam.parse_cidr(r["destination"])
        ipam.parse_ip(r["nexthop"], "nexthop")
        item = {"destination": r["destination"], "nexthop": r["nexthop"]}
        if item in out:
            raise InvalidInput(f"Duplicate route '{item}'")
        out.append(item)
    return out


ATTRS = spec(
    Attr("name", post=True, put=True, check=string(255), column="name"),
    Attr(
        "admin_state_up", post=True, put=True, check=boolean, column="admin_state_up", kind="bool"
    ),
    Attr("status", column="status"),
    Attr("external_gateway_info", post=True, put=True, check=_gateway_info, filter=False),
    Attr("routes", put=True, check=_routes, filter=False),
    Attr(
        "distributed",
        post=True,
        put=True,
        check=boolean,
        admin_only=True,
        admin_view=True,
        column="distributed",
        kind="bool",
    ),
    Attr(
        "ha",
        post=True,
        put=True,
        check=boolean,
        admin_only=True,
        admin_view=True,
        column="ha",
        kind="bool",
    ),
    Attr("availability_zone_hints", filter=False),
    Attr("availability_zones", filter=False),
    Attr("flavor_id", filter=False),
)


def view(row, gw_ips: list[dict] | None, gw_network: str | None) -> dict:
    info = None
    if row.gw_port_id is not None:
        info = {
            "network_id": gw_network,
            "enable_snat": row.enable_snat,
            "external_fixed_ips": gw_ips or [],
        }
    return {
        "id": row.id,
        "name": row.name,
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "external_gateway_info": info,
        "routes": row.routes,
        "distributed": row.distributed,
        "ha": row.ha,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "flavor_id": None,
        **standard(row),
    }


def _views(conn, rows) -> list[dict]:
    gw_ports = [r.gw_port_id for r in rows if r.gw_port_id]
    ips = fixed_ips_of(conn, gw_ports)
    nets = (
        dict(conn.execute(select(P.c.id, P.c.network_id).where(P.c.id.in_(gw_ports))).all())
        if gw_ports
        else {}
    )
    return [view(r, ips.get(r.gw_port_id), nets.get(r.gw_port_id)) for r in rows]


def fetch(conn, ctx, router_id: str):
    return owned_row(conn, ctx, T, router_id, "Router")


def show(conn, ctx, router_id: str) -> dict:
    return _views(conn, [fetch(conn, ctx, router_id)])[0]


def list_views(conn, ctx, columns: dict[str, list]) -> list[dict]:
    return _views(conn, owned_rows(conn, ctx, T, columns))


def interface_ports(conn, router_id: str) -> list:
    return conn.execute(
        select(P).where(P.c.device_id == router_id, P.c.device_owner.in_(ROUTER_INTERFACES))
    ).all()


def interface_subnets(conn, router_id: str) -> dict[str, str]:
    """subnet id -> interface port id, for every interface of the router."""
    out = {}
    for port in interface_ports(conn, router_id):
        for f in fixed_ips_of(conn, [port.id])[port.id]:
            out[f["subnet_id"]] = port.id
    return out


# --- gateway ---------------------------------------------------------------------


def _external_network(conn, ctx, network_id: str):
    try:
        network = networks.fetch(conn, ctx, network_id)
    except errors.ApiError:
        raise errors.not_found("Network", network_id) from None
    if not network.external:
        raise errors.bad_request(
            f"Bad router request: Network {network_id} is not a valid external network.",
            "BadRequest",
        )
    return network


def _set_gateway(tx, ctx, router, info: dict | None) -> None:
    """Make the router's gateway port match `info` (None removes it)."""
    current_net = None
    if router.gw_port_id:
        current_net = tx.conn.execute(
            select(P.c.network_id).where(P.c.id == router.gw_port_id)
        ).scalar()
    if info is not None:
        if "enable_snat" in info and not ctx.is_admin:
            raise errors.forbidden("update_router:external_gateway_info:enable_snat")
        fixed = info.get("external_fixed_ips")
        if fixed and any("ip_address" in f for f in fixed) and not ctx.is_admin:
            raise errors.forbidden("update_router:external_gateway_info:external_fixed_ips")
    if info is None or (current_net is not None and info["network_id"] != current_net):
        if router.gw_port_id:
            _check_no_fips(tx.conn, router.id)
            _drop_gateway(tx, router)
            router = get_row(tx.conn, T, router.id, "Router")
        if info is None:
            return
    network = _external_network(tx.conn, ctx, info["network_id"])
    enable_snat = info.get("enable_snat", router.enable_snat if router.gw_port_id else True)
    if router.gw_port_id:
        if "external_fixed_ips" in info:
            replace_fixed_ips(
                tx, get_row(tx.conn, P, router.gw_port_id, "Port"), info["external_fixed_ips"]
            )
        tx.execute(sql_update(T).where(T.c.id == router.id).values(enable_snat=enable_snat))
        return
    fixed = allocate(tx, network.id, info.get("external_fixed_ips"))
    if not fixed:
        raise errors.bad_request(
            f"Bad router request: No IPv4 subnet on external network {network.id} to give the "
            "router a gateway address.",
            "BadRequest",
        )
    gw = insert_port(
        tx,
        network_id=network.id,
        project_id="",
        fixed_ips=fixed,
        device_id=router.id,
        device_owner=ROUTER_GATEWAY,
    )
    tx.execute(
        sql_update(T).where(T.c.id == router.id).values(gw_port_id=gw, enable_snat=enable_snat)
    )
    if router.distributed:
        for subnet_id in interface_subnets(tx.conn, router.id):
            _add_snat_port(tx, router.id, subnet_id)


def _drop_gateway(tx, router) -> None:
    tx.execute(sql_update(T).where(T.c.id == router.id).values(gw_port_id=None))
    remove_port(tx, router.gw_port_id)
    for snat in (
        tx.conn.execute(
            select(P.c.id).where(P.c.device_id == router.id, P.c.device_owner == ROUTER_SNAT)
        )
        .scalars()
        .all()
    ):
        remove_port(tx, snat)


def _check_no_fips(conn, router_id: str, subnet_id: str | None = None) -> None:
    fips = conn.execute(
        select(F.c.id, F.c.port_id, F.c.fixed_ip_address).where(F.c.router_id == router_id)
    ).all()
    for fip in fips:
        if subnet_id is not None:
            on_subnet = conn.execute(
                select(A.c.port_id).where(A.c.port_id == fip.port_id, A.c.subnet_id == subnet_id)
            ).first()
            if on_subnet is None:
                continue
            raise errors.conflict(
                "RouterInterfaceInUseByFloatingIP",
                f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
                "deleted, as it is required by one or more floating IPs.",
            )
        raise errors.conflict(
            "RouterExternalGatewayInUseByFloatingIp",
            f"Gateway cannot be updated for router {router_id}, since a gateway to external "
            f"network is required by one or more floating IPs.",
        )


def _add_snat_port(tx, router_id: str, subnet_id: str) -> None:
    subnet = get_row(tx.conn, schema.subnets, subnet_id, "Subnet")
    fixed = allocate(tx, subnet.network_id, [{"subnet_id": subnet_id}])
    insert_port(
        tx,
        network_id=subnet.network_id,
        project_id="",
        fixed_ips=fixed,
        device_id=router_id,
        device_owner=ROUTER_SNAT,
    )


# --- the API ---------------------------------------------------------------------


def create(tx, ctx, body, distributed_default: bool = True) -> dict:
    require_writer(ctx, "create_router")
    values = parse_body(body, "router", ATTRS, ctx, "create")
    row = {
        **new_standard(tx, values, ctx),
        "name": values.get("name", ""),
        "admin_state_up": values.get("admin_state_up", True),
        "status": "ACTIVE",
        "distributed": values.get("distributed", distributed_default),
        "ha": values.get("ha", False),
        "gw_port_id": None,
        "enable_snat": True,
        "routes": [],
    }
    tx.execute(insert(T).values(**row))
    tx.changed("router", row["id"], "create", row["project_id"], 1)
    if values.get("external_gateway_info"):
        _set_gateway(
            tx, ctx, get_row(tx.conn, T, row["id"], "Router"), values["external_gateway_info"]
        )
    return show(tx.conn, ctx, row["id"])


def update(tx, ctx, router_id: str, body) -> dict:
    values = parse_body(body, "router", ATTRS, ctx, "update")
    router = fetch(tx.conn, ctx, router_id)
    require_writer(ctx, "update_router")
    columns = {k: values[k] for k in ("name", "admin_state_up", "description", "ha") if k in values}
    if "distributed" in values and values["distributed"] != router.distributed:
        _change_mode(
            tx, router, values["distributed"], values.get("admin_state_up", router.admin_state_up)
        )
        columns["distributed"] = values["distributed"]
    if "routes" in values:
        _check_routes(tx.conn, router, values["routes"])
        columns["routes"] = values["routes"]
    if "external_gateway_info" in values:
        _set_gateway(tx, ctx, router, values["external_gateway_info"])
        router = get_row(tx.conn, T, router_id, "Router")
    save(tx, T, router, columns, "router")
    return show(tx.conn, ctx, router_id)


def _change_mode(tx, router, distributed: bool, admin_state_up: bool) -> None:
    if not distributed:
        raise errors.bad_request(
            "Migration from distributed router to centralized is not supported", "BadRequest"
        )
    if admin_state_up:
        raise errors.bad_request(
            "Cannot upgrade active router to distributed. Please set router admin_state_up "
            "to False prior to upgrade",
            "BadRequest",
        )
    for port in interface_ports(tx.conn, router.id):
        tx.execute(sql_update(P).where(P.c.id == port.id).values(device_owner=ROUTER_INTERFACE_DVR))
    if router.gw_port_id:
        for subnet_id in interface_subnets(tx.conn, router.id):
            _add_snat_port(tx, router.id, subnet_id)


def _check_routes(conn, router, routes: list[dict]) -> None:
    connected = [
        ipam.parse_cidr(s.cidr)
        for s in conn.execute(
            select(schema.subnets.c.cidr).where(
                schema.subnets.c.id.in_(
                    list(interface_subnets(conn, router.id))
                    + (
                        [
                            f["subnet_id"]
                            for f in fixed_ips_of(conn, [router.gw_port_id])[router.gw_port_id]
                        ]
                        if router.gw_port_id
                        else []
                    )
                )
            )
        )
    ]
    for r in routes:
        hop = IPv4Address(r["nexthop"])
        if not any(hop in net for net in connected):
            raise errors.bad_request(
                f"Invalid format for routes: {routes}, the nexthop is not connected with router",
                "InvalidRoutes",
            )


def delete_(tx, ctx, router_id: str) -> None:
    router = fetch(tx.conn, ctx, router_id)
    require_writer(ctx, "delete_router")
    if interface_ports(tx.conn, router_id):
        raise errors.conflict("RouterInUse", f"Router {router_id} still has ports")
    if router.gw_port_id:
        _check_no_fips(tx.conn, router_id)
        _drop_gateway(tx, router)
    tx.execute(
        delete(schema.router_agent_bindings).where(
            schema.router_agent_bindings.c.router_id == router_id
        )
    )
    tx.execute(delete(T).where(T.c.id == router_id))
    tx.changed("router", router_id, "delete", router.project_id, router.revision_number)


def _interface_body(body) -> dict:
    if not isinstance(body, dict) or not body:
        raise errors.bad_request("Resource body required")
    unknown = set(body) - {"subnet_id", "port_id"}
    if unknown:
        raise errors.bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
    try:
        return {k: uuid_str(v) for k, v in body.items()}
    except InvalidInput as e:
        raise errors.bad_request(str(e)) from None


def _interface_info(router, port_id: str, network_id: str, subnet_ids: list[str]) -> dict:
    return {
        "id": router.id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": port_id,
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
        "network_id": network_id,
    }


def add_interface(tx, ctx, router_id: str, body) -> dict:
    req = _interface_body(body)
    router = fetch(tx.conn, ctx, router_id)
    require_writer(ctx, "add_router_interface")
    if "subnet_id" in req and "port_id" in req:
        raise errors.bad_request(
            "Bad router request: Cannot specify both subnet-id and port-id", "BadRequest"
        )
    if not req:
        raise errors.bad_request(
            "Bad router request: Either subnet_id or port_id must be specified", "BadRequest"
        )
    owner = ROUTER_INTERFACE_DVR if router.distributed else ROUTER_INTERFACE
    present = interface_subnets(tx.conn, router_id)
    if "subnet_id" in req:
        subnet = subnets.fetch(tx.conn, ctx, req["subnet_id"])
        if subnet.gateway_ip is None:
            raise errors.bad_request(
                f"Bad router request: Subnet {subnet.id} for router interface must have a gateway IP",
                "BadRequest",
            )
        _check_new_subnet(tx.conn, router_id, subnet, present)
        fixed = allocate(
            tx,
            subnet.network_id,
            [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}],
        )
        port_id = insert_port(
            tx,
            network_id=subnet.network_id,
            project_id=router.project_id,
            fixed_ips=fixed,
            device_id=router_id,
            device_owner=owner,
        )
        subnet_ids, network_id = [subnet.id], subnet.network_id
    else:
        port = ports.fetch(tx.conn, ctx, req["port_id"])
        if port.device_id or port.device_owner:
            raise errors.conflict(
                "PortInUse",
                f"Unable to complete operation on port {port.id} for network {port.network_id}. "
                f"Port already has an attached device {port.device_id or port.device_owner}.",
            )
        fixed = fixed_ips_of(tx.conn, [port.id])[port.id]
        if not fixed:
            raise errors.bad_request(
                f"Bad router request: Router port {port.id} must have at least one fixed IP",
                "BadRequest",
            )
        for f in fixed:
            _check_new_subnet(
                tx.conn, router_id, subnets.fetch(tx.conn, ctx, f["subnet_id"]), present
            )
        tx.execute(
            sql_update(P).where(P.c.id == port.id).values(device_id=router_id, device_owner=owner)
        )
        save(tx, P, port, {}, "port")
        port_id, network_id = port.id, port.network_id
        subnet_ids = [f["subnet_id"] for f in fixed]
    if router.distributed and router.gw_port_id:
        for subnet_id in subnet_ids:
            _add_snat_port(tx, router_id, subnet_id)
    bump(tx, T, router_id, "router")
    return _interface_info(router, port_id, network_id, subnet_ids)


def _check_new_subnet(conn, router_id: str, subnet, present: dict[str, str]) -> None:
    if subnet.id in present:
        raise errors.bad_request(
            f"Bad router request: Router already has a port on subnet {subnet.id}.", "BadRequest"
        )
    new = ipam.parse_cidr(subnet.cidr)
    for other in conn.execute(select(schema.subnets).where(schema.subnets.c.id.in_(list(present)))):
        if new.overlaps(ipam.parse_cidr(other.cidr)):
            raise errors.bad_request(
                f"Bad router request: Cidr {subnet.cidr} of subnet {subnet.id} overlaps with "
                f"cidr {other.cidr} of subnet {other.id}.",
                "BadRequest",
            )


def remove_interface(tx, ctx, router_id: str, body) -> dict:
    req = _interface_body(body)
    router = fetch(tx.conn, ctx, router_id)
    require_writer(ctx, "remove_router_interface")
    if not req:
        raise errors.bad_request(
            "Bad router request: Either subnet_id or port_id must be specified", "BadRequest"
        )
    present = interface_subnets(tx.conn, router_id)
    if "port_id" in req:
        port_id = req["port_id"]
        if port_id not in present.values():
            raise errors.ApiError(
                404,
                "RouterInterfaceNotFound",
                f"Router {router_id} does not have an interface with id {port_id}",
            )
        subnet_ids = [s for s, p in present.items() if p == port_id]
        if "subnet_id" in req and req["subnet_id"] not in subnet_ids:
            raise errors.conflict(
                "SubnetMismatchForPort",
                f"Subnet {req['subnet_id']} does not match the interface port {port_id}",
            )
    else:
        subnet_id = req["subnet_id"]
        if subnet_id not in present:
            subnets.fetch(tx.conn, ctx, subnet_id)
            raise errors.ApiError(
                404,
                "RouterInterfaceNotFoundForSubnet",
                f"Router {router_id} has no interface on subnet {subnet_id}",
            )
        port_id = present[subnet_id]
        subnet_ids = [subnet_id]
    for subnet_id in subnet_ids:
        _check_no_fips(tx.conn, router_id, subnet_id)
    network_id = tx.conn.execute(select(P.c.network_id).where(P.c.id == port_id)).scalar()
    remove_port(tx, port_id)
    snat_ports = (
        tx.conn.execute(
            select(P.c.id).where(P.c.device_id == router_id, P.c.device_owner == ROUTER_SNAT)
        )
        .scalars()
        .all()
    )
    for snat in snat_ports:
        if any(f["subnet_id"] in subnet_ids for f in fixed_ips_of(tx.conn, [snat])[snat]):
            remove_port(tx, snat)
    bump(tx, T, router_id, "router")
    return _interface_info(router, port_id, network_id, subnet_ids)
