"""Ports in the database: MAC and fixed IP allocation, creating and removing them.

Addresses come from the network's IPv4 subnets (the lowest free one in the pools)
or as requested. Allocations on one subnet queue up on the subnet's row lock; a
unique key on (subnet, address) and on the MAC backs that up: a writer that loses
a race runs its transaction again. The API (`api.ports`, `api.routers`,
`api.floatingips`) and the scheduler (the fip-namespace gateway ports) both make
and remove ports through here; who may ask is the API's business, not this.
"""

import random
from ipaddress import IPv4Address

from sqlalchemy import delete, insert, select
from sqlalchemy import update as sql_update

from ..db import schema
from . import errors, ipam
from .rows import get_row, new_id, save

T = schema.ports
A = schema.ipallocations
S = schema.subnets

MAC_PREFIX = "fa:16:3e"


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


def replace_fixed_ips(tx, row, requests: list[dict]) -> None:
    """Give a port the addresses `requests` asks for: keep the ones it has that match,
    allocate the rest, free the others (floating IPs on them are disassociated)."""
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
