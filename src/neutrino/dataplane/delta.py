"""The desired-vs-actual tracker every table is built on, and the table shape.

What it models:
    One kind of kernel (or OVS) object: the state neutrino wants (`desired`) and
    what it believes the data plane holds (`dataplane`), both {key: value}.
Goals:
    One shape everywhere (as Felix's DeltaTracker and its tables): a table is told
    the whole desired state (`set_desired`), can be told to forget its beliefs and
    read the kernel again (`queue_resync`), and applies only the difference, in two
    phases the caller orders across tables (`apply_updates` first for every table
    in dependency order, `apply_deletions` last, in reverse).
How it works:
    `pending_updates()` is every desired key whose believed value differs (or is
    absent), `pending_deletions()` every believed key that is not desired. A table
    writes, then confirms each success into `dataplane`; a failed write leaves the
    belief unchanged, records the error and queues a resync, so the next apply
    reads the truth and tries again. Keys may be marked *pending* (not writable
    yet, such as an OVS port whose device does not exist): they are skipped and
    reported as `Pending` records (kind, key, reason, and the names of the
    devices or ports they wait for), not errors. `ignored` keys are someone else's (keepalived's VRRP
    addresses): neither written nor deleted nor reported as drift.
Thread safety:
    None: one owner (the agent's sync loop) calls everything.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_MISSING = object()


def never(key) -> bool:
    """The `skip` and `gone` that hold for no key."""
    return False


class DeltaTracker:
    """desired and dataplane {key: value} maps, and their difference."""

    def __init__(self) -> None:
        self.desired: dict = {}
        self.dataplane: dict = {}

    def set_desired(self, items: dict) -> None:
        """items becomes the desired state (kept, not copied: the caller hands over a dict
        it made for this, `Table.desired_from`'s; a 300-host model copied 250,000 items)."""
        self.desired = items

    def replace_dataplane(self, items: dict) -> None:
        self.dataplane = dict(items)

    def believe_desired(self) -> None:
        """Everything desired was written: what is believed is the desired dict itself
        (one dict for both until either changes: `set_desired` gives desired a new one,
        `owned_dataplane` the belief a copy). A new host's flows were copied otherwise,
        1.27 million at 1,000 hosts."""
        self.dataplane = self.desired

    def owned_dataplane(self) -> dict:
        """`dataplane`, to be changed in place (not shared with `desired`)."""
        if self.dataplane is self.desired:
            self.dataplane = dict(self.desired)
        return self.dataplane

    def pending_updates(self) -> list[tuple]:
        dp = self.dataplane
        if dp is self.desired:  # (see believe_desired)
            return []
        if not dp:  # nothing believed (a new host): everything
            return list(self.desired.items())
        return [(k, v) for k, v in self.desired.items() if dp.get(k, _MISSING) != v]

    def pending_deletions(self) -> list[tuple]:
        want = self.desired
        if self.dataplane is want:  # (see believe_desired)
            return []
        # (in one pass of C, each believed key hashed once and no set made: most applies)
        if self.dataplane.keys() <= want.keys():
            return []
        return [(k, v) for k, v in self.dataplane.items() if k not in want]

    def confirm_set(self, key, value) -> None:
        self.owned_dataplane()[key] = value

    def confirm_deleted(self, key) -> None:
        self.owned_dataplane().pop(key, None)


def _all_of(done: list, todo: list) -> bool:
    """Whether the keys done are exactly those of todo's (key, value) items: compared in
    order first (most writes report their keys as given: no key hashed), then as sets."""
    keys = [key for key, _value in todo]
    return done == keys or set(done) == set(keys)


@dataclass(frozen=True)
class Pending:
    """One object that cannot be made yet: its table's kind and key, why, and the names
    of the devices or OVS ports it waits for (a VM's tap the agent reports DOWN)."""

    kind: str
    key: object
    reason: str
    waits_for: frozenset[str] = frozenset()
    what: str = ""  # the key as the table describes it (for messages)

    def __str__(self) -> str:
        return f"{self.kind} {self.what or self.key}: {self.reason}"


@dataclass
class ApplyResult:
    """What one apply did: writes by kind, items not yet possible, errors (then resync)."""

    writes: Counter = field(default_factory=Counter)
    pending: list[Pending] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reads: Counter = field(default_factory=Counter)
    # time spent per kind (reads and writes)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def merge(self, other: "ApplyResult", pending: bool = True) -> None:
        """Add what another part of the same apply did (the OVS tables run beside the kernel's)."""
        self.writes.update(other.writes)
        if pending:
            self.pending += other.pending
        self.errors += other.errors
        self.reads.update(other.reads)
        for kind, seconds in other.seconds.items():
            self.seconds[kind] += seconds

    @property
    def total_writes(self) -> int:
        return sum(self.writes.values())

    @property
    def resync_needed(self) -> bool:
        """True when something failed: the tables re-read the kernel on the next apply."""
        return bool(self.errors)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        writes = ", ".join(f"{k} {v}" for k, v in sorted(self.writes.items())) or "none"
        text = f"writes: {writes}"
        if self.pending:
            text += f"; pending: {len(self.pending)}"
        if self.errors:
            text += f"; errors: {len(self.errors)} (first: {self.errors[0]})"
        return text


class Table:
    """Base of every table: a tracker, a resync flag, and the two apply phases.

    Subclasses set `kind`, and implement `desired_from(state)`, `read()` (what the
    kernel holds of ours, {key: value}), `write(items, result)` and
    `delete(items, result)`; the last two return the keys that succeeded."""

    kind = "?"

    def __init__(self) -> None:
        self.delta = DeltaTracker()
        self.resync_queued = True
        self.ignored: set = set()
        self.pending: dict = {}  # key -> Pending: why it cannot be written yet

    # ------------------------------------------------------------ the shape

    def set_desired(self, items: dict) -> None:
        self.delta.set_desired(items)

    def queue_resync(self) -> None:
        self.resync_queued = True

    def resync_if_queued(self, result: ApplyResult) -> None:
        if self.resync_queued:
            try:
                actual = self.read()
            except Exception as e:  # noqa: BLE001 - reported, and retried on the next apply
                result.errors.append(f"{self.kind}: cannot read the data plane: {e}")
                return
            result.reads[self.kind] += 1
            self.delta.replace_dataplane({k: v for k, v in actual.items() if k not in self.ignored})
            self.resync_queued = False

    def apply_updates(self, result: ApplyResult, skip: Callable = never) -> None:
        self.pending = self.find_pending()
        todo = self.delta.pending_updates()
        if self.pending or self.ignored or skip is not never:
            todo = [
                (k, v)
                for k, v in todo
                if k not in self.pending and k not in self.ignored and not skip(k)
            ]
        result.pending += self.pending.values()
        if todo:
            self._run(self.write, todo, result, self.delta.confirm_set)

    def apply_deletions(self, result: ApplyResult, gone: Callable = never) -> None:
        """Delete what is not desired; keys `gone(key)` says vanish anyway are just forgotten."""
        todo = []
        for k, v in self.delta.pending_deletions():
            if k in self.ignored:
                continue
            if gone(k):
                self.delta.confirm_deleted(k)
            else:
                todo.append((k, v))
        if todo:
            self._run(self.delete, todo, result, lambda k, v: self.delta.confirm_deleted(k))

    def _run(self, op, todo: list, result: ApplyResult, confirm) -> None:
        try:
            done = op(todo, result)
        except Exception as e:  # noqa: BLE001 - one table's failure must not stop the others
            result.errors.append(f"{self.kind}: {e}")
            self.queue_resync()
            return
        done = list(done)
        if confirm == self.delta.confirm_set and _all_of(done, todo):
            # every write done (most applies): believed at once, not key by key (a new
            # host's tens of thousands)
            if not self.delta.dataplane and len(todo) == len(self.delta.desired):
                self.delta.believe_desired()  # (todo is of desired: all of it)
            else:
                self.delta.owned_dataplane().update(todo)
            result.writes[self.kind] += len(todo)
            return
        values = dict(todo)
        done = set(done)
        for key in done:
            confirm(key, values.get(key))
        result.writes[self.kind] += len(done & values.keys())
        if not values.keys() <= done:
            self.queue_resync()

    def drift(self) -> list[str]:
        """Differences between desired and the kernel (reads the kernel; changes nothing)."""
        actual = {k: v for k, v in self.read().items() if k not in self.ignored}
        pending = self.find_pending()
        out = []
        for k, v in self.delta.desired.items():
            if k in self.ignored or k in pending:
                continue
            have = actual.get(k, _MISSING)
            if have is _MISSING:
                out.append(f"{self.kind}: missing {self.describe(k)}")
            elif have != v:
                out.append(f"{self.kind}: {self.describe(k)} is {have!r}, want {v!r}")
        for k in actual:
            if k not in self.delta.desired:
                out.append(f"{self.kind}: unexpected {self.describe(k)}")
        return out

    # ------------------------------------------------------------ for subclasses

    def desired_from(self, state) -> dict:
        """{key: value} of what the state wants of this kind."""
        raise NotImplementedError

    def find_pending(self) -> dict:
        """{key: Pending} of the desired keys that cannot be written yet."""
        return {}

    def pending_item(self, key, reason: str, waits_for=()) -> Pending:
        return Pending(self.kind, key, reason, frozenset(waits_for), self.describe(key))

    def describe(self, key) -> str:
        return " ".join(str(part) for part in key) if isinstance(key, tuple) else str(key)

    def read(self) -> dict:
        raise NotImplementedError

    def write(self, items: list, result: ApplyResult) -> Iterable:
        raise NotImplementedError

    def delete(self, items: list, result: ApplyResult) -> Iterable:
        raise NotImplementedError
