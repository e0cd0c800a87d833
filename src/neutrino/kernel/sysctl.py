"""IPv4 sysctls of one namespace: net.ipv4.ip_forward and net.ipv4.conf.*.

Values live in three places, as in the kernel: `all`, `default` (copied into
each new device), and per device. How a setting takes effect follows
include/linux/inetdevice.h: some are "or" of all and device (accept_local,
send_redirects...), rp_filter is the larger of the two, forwarding is the
device's own (writing ip_forward or conf.all.forwarding sets every device).
"""

from .errors import KernelError

DEFAULTS = {
    "forwarding": 0,
    "rp_filter": 0,
    "accept_local": 0,
    "send_redirects": 1,
    "route_localnet": 0,
    "src_valid_mark": 0,
    "shared_media": 1,
    "bc_forwarding": 0,
    "ignore_routes_with_linkdown": 0,
    "proxy_arp": 0,
    "promote_secondaries": 0,
    "accept_redirects": 1,
    "secure_redirects": 1,
    "arp_ignore": 0,
    "arp_announce": 0,
    "arp_filter": 0,
    "log_martians": 0,
}


GLOBALS = {
    "icmp_errors_use_inbound_ifaddr": 0,
    "icmp_echo_ignore_broadcasts": 1,
    "icmp_echo_ignore_all": 0,
    "ip_default_ttl": 64,
}


class NetConf:
    """The net.ipv4 sysctls of one namespace."""

    def __init__(self):
        self.globals = dict(GLOBALS)
        self.all = dict(DEFAULTS)
        self.default = dict(DEFAULTS)
        self.devs: dict[str, dict] = {}

    def new_device(self, name: str) -> dict:
        conf = dict(self.default)
        self.devs[name] = conf
        return conf

    def rename_device(self, old: str, new: str) -> None:
        self.devs[new] = self.devs.pop(old)

    def drop_device(self, name: str) -> None:
        self.devs.pop(name, None)

    # --- reading and writing by sysctl name
    def _split(self, key: str) -> tuple[dict | None, str]:
        key = key.replace("/", ".")
        if key in ("net.ipv4.ip_forward",):
            return None, "ip_forward"
        if key.startswith("net.ipv4.") and key[len("net.ipv4.") :] in GLOBALS:
            return self.globals, key[len("net.ipv4.") :]
        prefix = "net.ipv4.conf."
        if not key.startswith(prefix):
            modelled = ", ".join(["ip_forward", *GLOBALS, "conf.*"])
            raise KernelError("ENOENT", f"sysctl {key} is not modelled (net.ipv4.: {modelled})")
        rest = key[len(prefix) :]
        where, _, name = rest.rpartition(".")
        if name not in DEFAULTS:
            raise KernelError(
                "ENOENT", f"sysctl {key}: {name!r} is not one of {', '.join(sorted(DEFAULTS))}"
            )
        if where == "all":
            return self.all, name
        if where == "default":
            return self.default, name
        if where in self.devs:
            return self.devs[where], name
        raise KernelError("ENOENT", f"sysctl {key}: no device {where!r} in this namespace")

    def get(self, key: str) -> int:
        table, name = self._split(key)
        if table is None:
            return self.all["forwarding"]
        return table[name]

    def set(self, key: str, value: int) -> None:
        table, name = self._split(key)
        if table is None or (table is self.all and name == "forwarding"):
            value = 1 if value else 0
            self.all["forwarding"] = value
            self.default["forwarding"] = value
            for conf in self.devs.values():
                conf["forwarding"] = value
            return
        table[name] = value

    # --- effective values, as the IN_DEV_* macros compute them
    def dev_value(self, dev, name: str) -> int:
        return self.all[name] or dev.conf.get(name, 0)

    def forwarding(self, dev) -> bool:
        return bool(dev.conf["forwarding"])

    def rp_filter(self, dev) -> int:
        return max(self.all["rp_filter"], dev.conf["rp_filter"])

    def accept_local(self, dev) -> bool:
        return bool(self.dev_value(dev, "accept_local"))

    def send_redirects(self, dev) -> bool:
        return bool(self.dev_value(dev, "send_redirects"))

    def route_localnet(self, dev) -> bool:
        return bool(self.dev_value(dev, "route_localnet"))

    def src_valid_mark(self, dev) -> bool:
        return bool(self.dev_value(dev, "src_valid_mark"))

    def shared_media(self, dev) -> bool:
        return bool(self.dev_value(dev, "shared_media"))

    def bc_forwarding(self, dev) -> bool:
        return bool(self.all["bc_forwarding"] and dev.conf["bc_forwarding"])

    def promote_secondaries(self, dev) -> bool:
        return bool(self.dev_value(dev, "promote_secondaries"))
