"""The namespace table: neutrino's network namespaces, created and swept.

What it models:
    The set of our namespaces, {logical name: True}; a namespace is ours when its
    real name is `<prefix>qrouter-…`, `<prefix>snat-…` or `<prefix>fip-…` (owner).
Goals:
    Created first, deleted last; stale namespaces of ours (in no state) are swept,
    so a crashed agent's leftovers go at its next start (Neutron's namespace
    manager: list all at full sync, keep what is needed, delete the rest).
How it works:
    read() lists /run/netns; write() is `ip netns add` in-process, delete() is `ip
    netns del` (through `backend.KernelAccess`) (its devices, addresses, routes and processes' sockets go with it,
    so the other tables just forget what was inside, see `LinuxDataplane`).
Thread safety:
    None: one owner.
"""

from .delta import Table
from .netlink import Namespaces
from .owner import is_our_namespace


class NamespaceTable(Table):
    kind = "namespace"

    def __init__(self, namespaces: Namespaces):
        super().__init__()
        self.ns = namespaces

    def desired_from(self, state) -> dict:
        return {ns: True for ns in state.namespaces if ns}

    def read(self) -> dict:
        p = self.ns.prefix
        return {
            name[len(p) :]: True
            for name in self.ns.kernel.list_namespaces()
            if is_our_namespace(name, p)
        }

    def existing(self) -> list[str]:
        """Our namespaces as believed (after a resync, what the kernel has), and the host's."""
        return ["", *sorted(self.delta.dataplane)]

    def write(self, items, result):
        done = []
        for ns, _ in items:
            try:
                self.ns.kernel.create_namespace(self.ns.prefix + ns)
            except FileExistsError:
                pass
            except OSError as e:
                result.errors.append(f"namespace {self.ns.describe(ns)}: cannot create: {e}")
                continue
            self.ns.forget(ns)
            done.append(ns)
        return done

    def delete(self, items, result):
        done = []
        for ns, _ in items:
            self.ns.forget(ns)
            try:
                self.ns.kernel.delete_namespace(self.ns.prefix + ns)
            except FileNotFoundError:
                pass
            except OSError as e:
                result.errors.append(f"namespace {self.ns.describe(ns)}: cannot delete: {e}")
                continue
            done.append(ns)
        return done

    def describe(self, key) -> str:
        return self.ns.describe(key)
