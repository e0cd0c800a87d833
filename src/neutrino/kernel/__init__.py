"""A model of the Linux IPv4 forwarding path that answers like the real kernel.

    from neutrino.kernel import Kernel, IpError
    k = Kernel()
    ns = k.netns("r1")
    ns.ip("link add eth0 type dummy")
    print(ns.ip("route get 10.0.0.5"))

Namespaces, devices (loopback, dummy, veth, bridge), IPv4 addresses with the
kernel's automatic routes, the routing policy database and route tables, and
`ip route get` for locally generated and forwarded packets. Its answers are
checked against the running kernel by the differential tests in tests/kernel.
"""

from .errors import IpError, KernelError
from .kernel import Kernel
from .netns import Namespace

__all__ = ["Kernel", "Namespace", "IpError", "KernelError"]
