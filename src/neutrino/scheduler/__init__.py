"""Which host runs which part of which router, and what each host needs to know.

`cloud` holds the snapshot the rest works on (`Cloud`, pure data read from the
database or built by the simulator), `place` decides router placement, `view`
cuts out the slice of the cloud one host needs (`view_for_host -> HostView`),
`pipeline` does the three in one (`cloud_views -> CloudViews`, with the VRRP
master of each HA router); `store` reads the cloud from the database.
"""

from .cloud import Cloud, FloatingIP, Host, Network, Port, Router, Subnet
from .pipeline import CloudViews, cloud_views
from .place import Placement, place_routers
from .view import HostView, view_for_host

__all__ = [
    "Cloud",
    "CloudViews",
    "FloatingIP",
    "Host",
    "HostView",
    "Network",
    "Placement",
    "Port",
    "Router",
    "Subnet",
    "cloud_views",
    "place_routers",
    "view_for_host",
]
