"""The tables neutrino stores its resources in (SQLAlchemy Core).

One table per Neutron resource, the IP allocations that make IPAM safe (a unique
key per subnet and address), router-to-agent bindings (with each agent's liveness as the server last noticed
it), and `changes`: one row per
write, numbered by a single counter row so that the order of numbers is the order
of commits (agents watch it). `projects` holds the projects made through the
identity API (`POST /v3/projects`), beside those of the config file; `dvr_macs`
the unique MAC each DVR host puts on the frames it routes. Alembic migrations under `migrations/` create these.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    true,
)

metadata = MetaData()

ID = 36


def _standard(*columns):
    """Columns every Neutron resource has, after the resource's own."""
    return (
        *columns,
        Column("description", String(255), nullable=False, default=""),
        Column("revision_number", BigInteger, nullable=False, default=1),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )


networks = Table(
    "networks",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column("project_id", String(64), nullable=False, index=True),
        Column("name", String(255), nullable=False, default=""),
        Column("admin_state_up", Boolean, nullable=False, default=True),
        Column("shared", Boolean, nullable=False, default=False),
        Column("external", Boolean, nullable=False, default=False),
        Column("mtu", Integer, nullable=False),
        Column("status", String(16), nullable=False, default="ACTIVE"),
        Column("network_type", String(16), nullable=False),
        Column("physical_network", String(64)),
        Column("segmentation_id", Integer),
    ),
    UniqueConstraint("network_type", "physical_network", "segmentation_id", name="uq_segment"),
)

subnets = Table(
    "subnets",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column("network_id", String(ID), ForeignKey("networks.id"), nullable=False, index=True),
        Column("project_id", String(64), nullable=False, index=True),
        Column("name", String(255), nullable=False, default=""),
        Column("ip_version", Integer, nullable=False, default=4),
        Column("cidr", String(64), nullable=False),
        Column("gateway_ip", String(64)),
        Column("enable_dhcp", Boolean, nullable=False, default=True),
        Column("allocation_pools", JSON, nullable=False),
        Column("dns_nameservers", JSON, nullable=False),
        Column("host_routes", JSON, nullable=False),
    ),
)

ports = Table(
    "ports",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column("network_id", String(ID), ForeignKey("networks.id"), nullable=False, index=True),
        Column("project_id", String(64), nullable=False, index=True),
        Column("name", String(255), nullable=False, default=""),
        Column("mac_address", String(32), nullable=False, unique=True),
        Column("admin_state_up", Boolean, nullable=False, default=True),
        Column("status", String(16), nullable=False, default="DOWN"),
        Column("device_id", String(255), nullable=False, default=""),
        Column("device_owner", String(255), nullable=False, default=""),
        Column("host_id", String(255), nullable=False, default=""),
    ),
    Index("ix_ports_device_id", "device_id"),
)

ipallocations = Table(
    "ipallocations",
    metadata,
    Column("port_id", String(ID), ForeignKey("ports.id", ondelete="CASCADE"), nullable=False),
    Column("subnet_id", String(ID), ForeignKey("subnets.id"), nullable=False),
    Column("network_id", String(ID), nullable=False),
    Column("ip_address", String(64), nullable=False),
    UniqueConstraint("subnet_id", "ip_address", name="uq_ip_per_subnet"),
    Index("ix_ipallocations_port", "port_id"),
)

routers = Table(
    "routers",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column("project_id", String(64), nullable=False, index=True),
        Column("name", String(255), nullable=False, default=""),
        Column("admin_state_up", Boolean, nullable=False, default=True),
        Column("status", String(16), nullable=False, default="ACTIVE"),
        Column("distributed", Boolean, nullable=False, default=False),
        Column("ha", Boolean, nullable=False, default=False),
        Column("gw_port_id", String(ID), ForeignKey("ports.id")),
        Column("enable_snat", Boolean, nullable=False, default=True),
        Column("routes", JSON, nullable=False),
    ),
)

floatingips = Table(
    "floatingips",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column("project_id", String(64), nullable=False, index=True),
        Column("floating_network_id", String(ID), ForeignKey("networks.id"), nullable=False),
        Column("floating_port_id", String(ID), ForeignKey("ports.id"), nullable=False),
        Column("floating_ip_address", String(64), nullable=False),
        Column("port_id", String(ID), ForeignKey("ports.id")),
        Column("fixed_ip_address", String(64)),
        Column("router_id", String(ID), ForeignKey("routers.id")),
        Column("status", String(16), nullable=False, default="DOWN"),
    ),
    UniqueConstraint("floating_network_id", "port_id", "fixed_ip_address", name="uq_fip_fixed"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("agent_type", String(255), nullable=False),
    Column("binary", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("admin_state_up", Boolean, nullable=False, default=True),
    Column("configurations", JSON, nullable=False),
    Column("availability_zone", String(255)),
    Column("description", String(255)),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("heartbeat_timestamp", DateTime, nullable=False),
    # alive or not, as the server last noticed and acted on (scheduler.failover)
    Column("noticed_alive", Boolean, nullable=False, default=True, server_default=true()),
    UniqueConstraint("agent_type", "host", name="uq_agent_type_host"),
)

router_agent_bindings = Table(
    "router_agent_bindings",
    metadata,
    Column("router_id", String(ID), ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", String(ID), ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("ha_state", String(16)),  # an HA router's instance: "active" / "standby", as reported
)

security_groups = Table(
    "security_groups",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column("project_id", String(64), nullable=False, index=True),
        Column("name", String(255), nullable=False, default=""),
    ),
)

security_group_rules = Table(
    "security_group_rules",
    metadata,
    *_standard(
        Column("id", String(ID), primary_key=True),
        Column(
            "security_group_id",
            String(ID),
            ForeignKey("security_groups.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("project_id", String(64), nullable=False),
        Column("direction", String(16), nullable=False),
        Column("ethertype", String(8), nullable=False),
        Column("protocol", String(16)),
        Column("port_range_min", Integer),
        Column("port_range_max", Integer),
        Column("remote_ip_prefix", String(64)),
        Column("remote_group_id", String(ID)),
    ),
)

port_security_groups = Table(
    "port_security_groups",
    metadata,
    Column("port_id", String(ID), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "security_group_id",
        String(ID),
        ForeignKey("security_groups.id"),
        primary_key=True,
    ),
)

dvr_macs = Table(
    "dvr_macs",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("mac", String(32), nullable=False, unique=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("domain_id", String(64), nullable=False),
    Column("description", String(255), nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("domain_id", "name", name="uq_project_name"),
)

change_counter = Table(
    "change_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

changes = Table(
    "changes",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("resource", String(32), nullable=False),
    Column("resource_id", String(ID), nullable=False),
    Column("action", String(16), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("revision_number", BigInteger, nullable=False),
    Column("at", DateTime, nullable=False),
)
