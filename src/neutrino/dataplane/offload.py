"""Transmit checksum offload off on a device (what `ethtool -K DEV tx off` does).

Open vSwitch's userspace (netdev) datapath reads and writes veths with AF_PACKET;
a packet a namespace's TCP stack sends out of a veth with checksum offload on
still has a partial checksum (and may be a TSO super-packet) when OVS reads it,
and the receiver drops it: ping works, TCP does not. So every veth end that OVS
may see goes without it. One ETHTOOL_STXCSUM ioctl, in the current namespace.
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
