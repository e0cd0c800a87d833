"""Adding and deleting policy rules, with the kernel's checks and matching.

`RuleRequest` is what an `ip rule add/del` request carries (which attributes
were given matters: deletion matches only on those). `add_rule` follows
fib_nl2rule, rule_exists and fib4_rule_configure (default priority, goto
checks, port ranges, tos, the first-rule switch from the merged local/main
trie to the rule walk, `table 0` allocating an unused table); `delete_rule`
follows rule_find and refuses the permanent rule 0.
"""

from dataclasses import dataclass

from .consts import FIB_RULE_PERMANENT, FR_ACT_GOTO, FR_ACT_TO_TBL, RT_TABLE_UNSPEC
from .errors import KernelError
from .netns import Namespace
from .rules import Rule


@dataclass
class RuleRequest:
    """Attributes of one rule request; None means 'not given'."""

    action: int = 0
    table: int = 0
    flags: int = 0
    pref: int | None = None
    src: int | None = None
    src_len: int = 0
    dst: int | None = None
    dst_len: int = 0
    tos: int = 0
    iifname: str | None = None
    oifname: str | None = None
    mark: int | None = None
    mask: int | None = None
    ipproto: int = 0
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    suppress_prefixlen: int | None = None
    suppress_ifgroup: int | None = None
    goto: int | None = None
    protocol: int | None = None
    realms: int | None = None
    uidrange: tuple[int, int] | None = None


def _port_range_ok(r: tuple[int, int]) -> bool:
    start, end = r
    return start != 0 and end != 0 and end < 0xFFFF and start <= end


def build_rule(ns: Namespace, req: RuleRequest) -> Rule:
    """fib_nl2rule: the rule a request describes (not yet inserted)."""
    rule = Rule(pref=req.pref if req.pref is not None else ns.rules.default_pref())
    rule.protocol = req.protocol or 0
    if req.iifname is not None:
        rule.iifname = req.iifname
        dev = ns.link(req.iifname)
        rule.iifindex = dev.ifindex if dev is not None else -1
    if req.oifname is not None:
        rule.oifname = req.oifname
        dev = ns.link(req.oifname)
        rule.oifindex = dev.ifindex if dev is not None else -1
    if req.mark is not None:
        rule.mark = req.mark
        if req.mark:
            rule.mark_mask = 0xFFFFFFFF
    if req.mask is not None:
        rule.mark_mask = req.mask
    rule.action = req.action
    rule.flags = req.flags
    rule.table = req.table
    rule.suppress_prefixlen = req.suppress_prefixlen if req.suppress_prefixlen is not None else -1
    rule.suppress_ifgroup = req.suppress_ifgroup if req.suppress_ifgroup is not None else -1
    if req.goto is not None:
        if rule.action != FR_ACT_GOTO:
            raise KernelError("EINVAL", "Unexpected goto")
        rule.target = req.goto
        if rule.target <= rule.pref:
            raise KernelError("EINVAL", "Backward goto not supported")
    elif rule.action == FR_ACT_GOTO:
        raise KernelError("EINVAL", "Missing goto target for action goto")
    if req.uidrange is not None:
        if req.uidrange[0] > req.uidrange[1]:
            raise KernelError("EINVAL", "Invalid uid range")
        rule.uidrange = req.uidrange
    rule.ipproto = req.ipproto
    if req.sport is not None:
        if not _port_range_ok(req.sport):
            raise KernelError("EINVAL", "Invalid sport range")
        rule.sport = req.sport
    if req.dport is not None:
        if not _port_range_ok(req.dport):
            raise KernelError("EINVAL", "Invalid dport range")
        rule.dport = req.dport
    rule.src = req.src or 0
    rule.src_len = req.src_len
    rule.dst = req.dst or 0
    rule.dst_len = req.dst_len
    rule.tos = req.tos
    rule.realms = req.realms or 0
    return rule


def _compare(r: Rule, req: RuleRequest) -> bool:
    """fib4_rule_compare: only the address and tos attributes that were given."""
    if req.src_len and r.src_len != req.src_len:
        return False
    if req.dst_len and r.dst_len != req.dst_len:
        return False
    if req.tos and r.tos != req.tos:
        return False
    if req.realms is not None and r.realms != req.realms:
        return False
    if req.src_len and r.src != (req.src or 0):
        return False
    if req.dst_len and r.dst != (req.dst or 0):
        return False
    return True


def _exists(ns: Namespace, rule: Rule, req: RuleRequest) -> bool:
    """rule_exists, as `ip rule add` (NLM_F_EXCL) checks it."""
    for r in ns.rules:
        if (
            r.action != rule.action
            or r.table != rule.table
            or r.pref != rule.pref
            or r.iifname != rule.iifname
            or r.oifname != rule.oifname
            or r.mark != rule.mark
            or r.suppress_ifgroup != rule.suppress_ifgroup
            or r.suppress_prefixlen != rule.suppress_prefixlen
            or r.mark_mask != rule.mark_mask
            or r.uidrange != rule.uidrange
            or r.ipproto != rule.ipproto
            or r.protocol != rule.protocol
            or r.sport != rule.sport
            or r.dport != rule.dport
        ):
            continue
        if _compare(r, req):
            return True
    return False


def add_rule(ns: Namespace, req: RuleRequest, excl: bool = True) -> Rule:
    rule = build_rule(ns, req)
    if excl and _exists(ns, rule, req):
        raise KernelError("EEXIST")
    if req.tos & 0x03:
        raise KernelError("EINVAL", "Invalid dsfield (tos): ECN bits must be 0")
    if req.tos & ~0x1E:
        raise KernelError("EINVAL", "Invalid tos")
    if rule.table == RT_TABLE_UNSPEC and rule.action == FR_ACT_TO_TBL:
        rule.table = _empty_table(ns)
    ns.rules.custom = True
    ns.rules.insert(rule)
    return rule


def _empty_table(ns: Namespace) -> int:
    """fib_empty_table: the first table id not in use, created."""
    tid = 1
    while ns.table(tid) is not None:
        tid += 1
    ns.table(tid, create=True)
    return tid


def find_rule(ns: Namespace, req: RuleRequest) -> Rule | None:
    """rule_find: the first rule matching every attribute the request gave."""
    for r in ns.rules:
        if req.action and r.action != req.action:
            continue
        if req.table and r.table != req.table:
            continue
        if req.pref is not None and r.pref != req.pref:
            continue
        if req.iifname and r.iifname != req.iifname:
            continue
        if req.oifname and r.oifname != req.oifname:
            continue
        if req.mark and r.mark != req.mark:
            continue
        if (
            req.suppress_ifgroup is not None
            and req.suppress_ifgroup != -1
            and r.suppress_ifgroup != req.suppress_ifgroup
        ):
            continue
        if (
            req.suppress_prefixlen is not None
            and req.suppress_prefixlen != -1
            and r.suppress_prefixlen != req.suppress_prefixlen
        ):
            continue
        mask = req.mask if req.mask is not None else (0xFFFFFFFF if req.mark else 0)
        if mask and r.mark_mask != mask:
            continue
        if req.uidrange is not None and r.uidrange != req.uidrange:
            continue
        if req.ipproto and r.ipproto != req.ipproto:
            continue
        if req.protocol and r.protocol != req.protocol:
            continue
        if req.sport is not None and r.sport != req.sport:
            continue
        if req.dport is not None and r.dport != req.dport:
            continue
        if not _compare(r, req):
            continue
        return r
    return None


def delete_rule(ns: Namespace, req: RuleRequest) -> Rule:
    if req.goto is not None and req.action != FR_ACT_GOTO:
        raise KernelError("EINVAL", "Unexpected goto")
    rule = find_rule(ns, req)
    if rule is None:
        raise KernelError("ENOENT")
    if rule.flags & FIB_RULE_PERMANENT:
        raise KernelError("EPERM")
    ns.rules.remove(rule)
    return rule
