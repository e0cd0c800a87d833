"""Turns off transmit checksum offload (and with it TSO) on veth devices, in any namespace.

Why: OVS's userspace (netdev) datapath reads and writes veths with AF_PACKET. A
packet that a namespace's own TCP stack sends out of a veth with checksum offload
on still has a partial checksum (and may be a 64 KB TSO super-packet) when OVS
reads it, and OVS forwards it as it is: the receiver drops it, so ping works and
TCP does not. The known fix is `ethtool -K DEV tx off` on the veths; ethtool is not
among the lab's packages, so this makes the same request (the ETHTOOL_STXCSUM ioctl).
Router namespaces' veths need the same (the agent's business).

    python -m neutrino.lab.offload NS:DEV[,DEV...] ...     (run as root)

One process visits every namespace in turn (setns), so the caller never leaves its own.
"""

import ctypes
import os
import sys

from ..dataplane.offload import tx_checksum_off

CLONE_NEWNET = 0x40000000


def enter(netns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/run/netns/{netns}") as f:
        if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns to {netns}: {os.strerror(err)}")


def main(specs: list[str]) -> int:
    for spec in specs:
        netns, _, devs = spec.partition(":")
        try:
            enter(netns)
            for dev in filter(None, devs.split(",")):
                tx_checksum_off(dev)
        except OSError as e:
            print(f"offload: {spec}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
