"""The scheduler's one pipeline: a cloud, its router placement, the view of each host.

`cloud_views(cloud, current, hosts)` places the routers (sticky to `current`, the
placement as stored) and cuts each host's view; `store.load_cloud_views(conn, ...)`
first reads the cloud from the database. The server answers an agent's watch with
it, the simulator plans its hosts from it: everyone sees the same placement.

The VRRP master of each HA router is chosen here one way only: the router's first
central host, the one `view` gives the highest VRRP priority (`place.vrrp_master`);
that is the host keepalived makes master while every instance is up.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .cloud import Cloud
from .ha import HaSettings
from .place import Placement, place_routers, vrrp_master
from .view import HostView, view_for_host


@dataclass(frozen=True)
class CloudViews:
    cloud: Cloud
    current: dict[str, tuple[str, ...]]  # the placement it started from (router -> hosts)
    placement: Placement
    views: dict[str, HostView]  # host -> its view (the hosts asked for that the cloud has)
    masters: dict[str, str]  # HA router id -> the host of its VRRP master

    @property
    def master_hosts(self) -> set[str]:
        """The hosts holding the VRRP addresses of at least one HA router."""
        return set(self.masters.values())


def cloud_views(
    cloud: Cloud,
    current: dict[str, tuple[str, ...]] | None = None,
    hosts: Iterable[str] | None = None,
    ha: HaSettings = HaSettings(),
    keep_down_hosts: bool = False,
) -> CloudViews:
    """Place the cloud's routers and make the views of `hosts` (None: every host).

    `keep_down_hosts`: routers stay on hosts that are down (automatic failover off)."""
    current = current or {}
    placement = place_routers(cloud, current, ha.hosts, keep_down_hosts=keep_down_hosts)
    wanted = sorted(cloud.hosts) if hosts is None else [h for h in hosts if h in cloud.hosts]
    views = {h: view_for_host(cloud, placement, h, ha.advert_int, ha.conntrackd) for h in wanted}
    return CloudViews(cloud, current, placement, views, vrrp_masters(cloud, placement))


def vrrp_masters(cloud: Cloud, placement: Placement) -> dict[str, str]:
    """HA router id -> the host its VRRP master runs on (routers placed somewhere)."""
    out = {}
    for router_id, central in sorted(placement.central.items()):
        router = cloud.routers.get(router_id)
        master = vrrp_master(central)
        if router is not None and router.ha and master is not None:
            out[router_id] = master
    return out
