"""The sysctl table: per-namespace kernel settings (ip_forward, send_redirects, proxy_arp).

What it models:
    {(ns, key): value} for the keys the state names; other keys are not ours and
    never read. A sysctl is not deleted: it goes with its namespace (or device).
Goals:
    Global keys before devices exist (`default.*` shapes new devices), device keys
    (`net.ipv4.conf.<dev>.*`) after: two instances, `device=False` and `device=True`.
How it works:
    Reads and writes /proc/sys inside the namespace (this thread entered into it,
    see `linux_kernel`): procfs resolves net sysctls in the reader's namespace.
    No process per key.
Thread safety:
    None: one owner.
"""

from .delta import Table, never
from .netlink import Namespaces


def is_device_key(key: str) -> bool:
    parts = key.split(".")
    return len(parts) > 4 and parts[2] == "conf" and parts[3] not in ("all", "default")


class SysctlTable(Table):
    def __init__(self, namespaces: Namespaces, device: bool):
        super().__init__()
        self.ns = namespaces
        self.device = device
        self.kind = "sysctl-device" if device else "sysctl"

    def desired_from(self, state) -> dict:
        return {
            (s.ns, s.key): s.value for s in state.sysctls if is_device_key(s.key) == self.device
        }

    def read(self) -> dict:
        out = {}
        for ns, keys in _by_ns(self.delta.desired).items():
            if not self.ns.exists(ns):
                continue
            for key, value in self.ns.at(ns).read_sysctls(keys).items():
                out[(ns, key)] = value
        return out

    def write(self, items, result):
        done = []
        for ns, keys in _by_ns(dict(items)).items():
            try:
                errors = self.ns.at(ns).write_sysctls(
                    {k: self.delta.desired[(ns, k)] for k in keys}
                )
                for key in keys:
                    if key in errors:
                        e = errors[key]
                        result.errors.append(f"sysctl {key} in {self.ns.describe(ns)}: {e}")
                    else:
                        done.append((ns, key))
            except OSError as e:
                result.errors.append(f"sysctl: cannot enter {self.ns.describe(ns)}: {e}")
        return done

    def apply_deletions(self, result, gone=never) -> None:
        for key, _ in self.delta.pending_deletions():  # nothing to undo: just forget
            self.delta.confirm_deleted(key)

    def drift(self) -> list[str]:
        return [d for d in super().drift() if "unexpected" not in d]


def _by_ns(items: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ns, key in items:
        out.setdefault(ns, []).append(key)
    return out
