"""Per-device settings of new veth ends: transmit checksum offload off, IPv6 off.

`tx_checksum_off` is what `ethtool -K DEV tx off` does:
Open vSwitch's userspace (netdev) datapath reads and writes veths with AF_PACKET;
a packet a namespace's TCP stack sends out of a veth with checksum offload on
still has a partial checksum (and may be a TSO super-packet) when OVS reads it,
and the receiver drops it: ping works, TCP does not. So every veth end that OVS
may see goes without it. One ETHTOOL_STXCSUM ioctl, in the current namespace.

`ipv6_off` is `sysctl net.ipv6.conf.DEV.disable_ipv6=1` (procfs resolves it in
the current namespace): neutrino routes IPv4 only (see links for why it
matters); nothing to do when the kernel has no IPv6.
"""

import ctypes
import fcntl
import socket
import struct

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


def tx_checksum_off(dev: str) -> None:
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifreq = struct.pack("16sP16x", dev.encode(), ctypes.addressof(value))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCETHTOOL, ifreq)


def ipv6_off(dev: str) -> None:
    try:
        with open(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "w") as f:
            f.write("1")
    except FileNotFoundError:
        pass  # no IPv6 in this kernel
