"""The cloud's HA router settings, as the server is configured (Neutron's names).

- `max_l3_agents_per_router`: how many hosts run an instance of each HA router;
- `l3_ha_net_cidr`: the subnet of every project's hidden HA network, from which each
  instance's `ha-` port takes its own address (VRRP is sent from it);
- `ha_vrrp_advert_int`: keepalived's advertisement interval, in seconds (VRRPv3
  counts centiseconds);
- `ha_conntrackd_enabled`: each instance runs conntrackd, which keeps the
  connection tracking state of the instances in step (TCP sessions through SNAT
  survive a failover); on by default here (off in Neutron).

The server checks the values when it reads its configuration (`config`); the
scheduler passes them to placement (`place`), the HA ports (`store`) and the views.
"""

from dataclasses import dataclass

DEFAULT_HA_CIDR = "169.254.192.0/18"
DEFAULT_ADVERT_INT = 0.1  # s; the failover benchmark's measure (docs/benchmarks.md)


@dataclass(frozen=True)
class HaSettings:
    hosts: int = 2  # max_l3_agents_per_router
    cidr: str = DEFAULT_HA_CIDR  # l3_ha_net_cidr
    advert_int: float = DEFAULT_ADVERT_INT  # ha_vrrp_advert_int
    conntrackd: bool = True  # ha_conntrackd_enabled
