"""The hidden HA network of a project, as Neutron makes it.

The first HA router of a project gets the project an HA network: project "" (only
admins see it), named `HA network tenant <project id>`, VXLAN like tenant networks,
with one subnet `HA subnet tenant <project id>` on the configured CIDR (Neutron's
`l3_ha_net_cidr`, 169.254.192.0/18 by default) and no gateway. Each instance of an
HA router has an `ha-` port on it (`network:router_ha_interface`, device_id the
router, bound to the instance's host), whose own address VRRP is sent from. The
network goes with the project's last HA router. The scheduler decides when
(`scheduler.store`); this module makes and removes the rows.
"""

from sqlalchemy import delete, insert, select

from ..db import schema
from . import ipam
from .owners import ROUTER_HA_PORT
from .ports import allocate, insert_port, remove_port
from .rows import new_id
from .segments import MTU, free_vni

NETWORK_NAME = "HA network tenant "
SUBNET_NAME = "HA subnet tenant "
PORT_NAME = "HA port tenant "


def network_name(project_id: str) -> str:
    return f"{NETWORK_NAME}{project_id}"


def project_of(network_name: str) -> str | None:
    """The project of an HA network by its name; None for another network."""
    if network_name.startswith(NETWORK_NAME):
        return network_name[len(NETWORK_NAME) :]
    return None


def create_network(tx, project_id: str, cidr: str) -> tuple[str, str]:
    """Make a project's HA network and its subnet; (network id, subnet id)."""
    net = ipam.parse_cidr(cidr)
    common = {
        "project_id": "",
        "description": "",
        "revision_number": 1,
        "created_at": tx.now,
        "updated_at": tx.now,
    }
    network_id, subnet_id = new_id(), new_id()
    tx.execute(
        insert(schema.networks).values(
            id=network_id,
            name=network_name(project_id),
            admin_state_up=True,
            shared=False,
            external=False,
            mtu=MTU["vxlan"],
            status="ACTIVE",
            network_type="vxlan",
            physical_network="",
            segmentation_id=free_vni(tx),
            **common,
        )
    )
    tx.changed("network", network_id, "create", "", 1)
    pools = ipam.default_pools(net, None)
    tx.execute(
        insert(schema.subnets).values(
            id=subnet_id,
            network_id=network_id,
            name=f"{SUBNET_NAME}{project_id}",
            ip_version=4,
            cidr=str(net),
            gateway_ip=None,
            enable_dhcp=False,
            allocation_pools=[p.as_dict() for p in pools],
            dns_nameservers=[],
            host_routes=[],
            **common,
        )
    )
    tx.changed("subnet", subnet_id, "create", "", 1)
    return network_id, subnet_id


def delete_network(tx, network_id: str) -> None:
    """Remove an HA network with its ports and subnet."""
    P, S = schema.ports, schema.subnets
    for port_id in tx.execute(select(P.c.id).where(P.c.network_id == network_id)).scalars():
        remove_port(tx, port_id)
    for subnet_id in tx.execute(select(S.c.id).where(S.c.network_id == network_id)).scalars():
        tx.execute(delete(S).where(S.c.id == subnet_id))
        tx.changed("subnet", subnet_id, "delete", "", 1)
    tx.execute(delete(schema.networks).where(schema.networks.c.id == network_id))
    tx.changed("network", network_id, "delete", "", 1)


def add_port(tx, network_id: str, project_id: str, router_id: str, host: str) -> None:
    """The `ha-` port of one instance of an HA router (on `host`), on its project's HA network."""
    insert_port(
        tx,
        network_id=network_id,
        project_id="",
        fixed_ips=allocate(tx, network_id, None),
        name=f"{PORT_NAME}{project_id}",
        device_id=router_id,
        device_owner=ROUTER_HA_PORT,
        host_id=host,
    )


def move_ports(tx, router_id: str, project_id: str, hosts: tuple[str, ...]) -> None:
    """An HA router's `ha-` ports on exactly `hosts` (its instances after a move)."""
    P = schema.ports
    have = dict(
        tx.execute(
            select(P.c.host_id, P.c.id).where(
                P.c.device_id == router_id, P.c.device_owner == ROUTER_HA_PORT
            )
        ).all()
    )
    for host, port_id in sorted(have.items()):
        if host not in hosts:
            remove_port(tx, port_id)
    network_id = tx.execute(
        select(schema.networks.c.id).where(
            schema.networks.c.name == network_name(project_id), schema.networks.c.project_id == ""
        )
    ).scalar()
    if network_id is None:
        return  # no HA network (yet): the next full reschedule makes it with the ports
    for host in hosts:
        if host not in have:
            add_port(tx, network_id, project_id, router_id, host)
