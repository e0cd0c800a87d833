"""`ip rule`: add, delete, list and flush policy rules, as iproute2's iprule.c does.

Parsing builds a RuleRequest (what the netlink request would carry), the
kernel side is ruleconfig.py, and printing follows print_rule in text and JSON.
"""

import re

from ..consts import (
    FIB_RULE_INVERT,
    FR_ACT_GOTO,
    FR_ACT_NOP,
    FR_ACT_TO_TBL,
    FR_ACT_UNSPEC,
    RT_TABLE_MAIN,
    RTPROT_KERNEL,
)
from ..errors import KernelError
from ..inet import fmt, in_subnet, parse_int, parse_uint
from ..ruleconfig import RuleRequest, add_rule, delete_rule
from .args import Args, Exit, Fail, c_hex, get_prefix, invarg, matches, netlink_fail
from .names import inet_proto_a2n, inet_proto_n2a, rtntype_a2n, rtntype_n2a
from .route import _realms

USAGE = "Usage: ip rule { add | del } SELECTOR ACTION\n       ip rule { flush | list }\n"

GROUPS = {"default": 0}


def do_rule(ctx, args: Args) -> None:
    if not args:
        return list_rules(ctx, Args([]), flush=False)
    cmd = args.cur
    args.advance()
    if matches(cmd, "list") or matches(cmd, "lst") or matches(cmd, "show"):
        return list_rules(ctx, args, flush=False)
    if matches(cmd, "add"):
        return modify(ctx, args, add=True)
    if matches(cmd, "delete"):
        return modify(ctx, args, add=False)
    if matches(cmd, "flush"):
        return list_rules(ctx, args, flush=True)
    if matches(cmd, "save") or matches(cmd, "restore"):
        raise Fail(f'neutrino: "ip rule {cmd}" (binary dumps) is not modelled\n', 1)
    if matches(cmd, "help"):
        raise Exit(USAGE)
    raise Exit(f'Command "{cmd}" is unknown, try "ip rule help".\n')


def _check_ifname(name: str) -> bool:
    return 0 < len(name) < 16 and not any(ch == "/" or ch.isspace() for ch in name)


def _port_range(value: str) -> tuple[int, int] | None:
    """sscanf("%hu-%hu"): one or two numbers, each taken modulo 2**16."""
    m = re.match(r"\s*([+-]?\d+)(?:-\s*([+-]?\d+))?", value)
    if not m:
        return None
    start = int(m.group(1)) & 0xFFFF
    end = int(m.group(2)) & 0xFFFF if m.group(2) is not None else start
    return start, end


def modify(ctx, args: Args, add: bool) -> None:
    names = ctx.names
    if not args:
        raise Fail(f'"ip rule {"add" if add else "del"}" requires arguments.\n', 1)
    req = RuleRequest(action=FR_ACT_TO_TBL if add else FR_ACT_UNSPEC)
    table_ok = False
    while args:
        word = args.cur
        if word == "not":
            req.flags |= FIB_RULE_INVERT
        elif word in ("from", "to"):
            pf = get_prefix(args.next())
            if word == "from":
                req.src, req.src_len = pf.addr, pf.plen
            else:
                req.dst, req.dst_len = pf.addr, pf.plen
        elif matches(word, "preference") or matches(word, "order") or matches(word, "priority"):
            pref = args.parsed(parse_uint, "preference value is invalid\n")
            req.pref = pref
        elif word == "tos" or matches(word, "dsfield"):
            tos = args.parsed(names.dsfield_a2n, "TOS value is invalid\n")
            req.tos = tos
        elif word == "fwmark":
            value = args.next()
            head, slash, tail = value.partition("/")
            mark = parse_uint(head)
            if mark is None:
                raise invarg("fwmark value is invalid\n", head)
            req.mark = mark
            if slash:
                mask = parse_uint(tail)
                if mask is None:
                    raise invarg("fwmask value is invalid\n", tail)
                req.mask = mask
        elif matches(word, "realms"):
            value = args.next()
            realm = _realms(names, value)
            if realm is None:
                raise invarg("invalid realms\n", value)
            req.realms = realm
        elif matches(word, "protocol"):
            proto = args.parsed(names.proto_a2n, '"protocol" value is invalid\n')
            req.protocol = proto
        elif matches(word, "table") or word == "lookup":
            tid = args.parsed(names.table_a2n, "invalid table ID\n")
            req.table = tid
            table_ok = True
        elif matches(word, "suppress_prefixlength") or word == "sup_pl":
            value = args.next()
            pl = parse_int(value)
            if pl is None or pl < 0:
                raise invarg("suppress_prefixlength value is invalid\n", value)
            req.suppress_prefixlen = pl
        elif matches(word, "suppress_ifgroup") or word == "sup_group":
            value = args.next()
            group = GROUPS.get(value)
            if group is None:
                group = parse_int(value)
            if group is None:
                raise invarg('Invalid "suppress_ifgroup" value\n', value)
            req.suppress_ifgroup = group
        elif word in ("dev", "iif"):
            value = args.next()
            if not _check_ifname(value):
                raise invarg('"iif"/"dev" not a valid ifname', value)
            req.iifname = value
        elif word == "oif":
            value = args.next()
            if not _check_ifname(value):
                raise invarg('"oif" not a valid ifname', value)
            req.oifname = value
        elif word == "uidrange":
            value = args.next()
            m = re.match(r"\s*(\d+)-\s*(\d+)", value)
            if not m:
                raise invarg("invalid UID range\n", value)
            req.uidrange = (int(m.group(1)) & 0xFFFFFFFF, int(m.group(2)) & 0xFFFFFFFF)
        elif word == "ipproto":
            proto = args.parsed(inet_proto_a2n, 'Invalid "ipproto" value\n')
            req.ipproto = proto
        elif word in ("sport", "dport"):
            value = args.next()
            rng = _port_range(value)
            if rng is None:
                raise invarg(
                    "invalid port range\n" if word == "sport" else "invalid dport range\n", value
                )
            if word == "sport":
                req.sport = rng
            else:
                req.dport = rng
        elif word in ("l3mdev", "nat") or matches(word, "map-to") or matches(word, "tun_id"):
            raise Fail(f'neutrino: "ip rule ... {word}" is not modelled\n', 1)
        else:
            if word == "type":
                word = args.next()
            if matches(word, "help"):
                raise Exit(USAGE)
            if matches(word, "goto"):
                target = args.parsed(parse_uint, "invalid target\n")
                req.goto = target
                action = FR_ACT_GOTO
            elif matches(word, "nop"):
                action = FR_ACT_NOP
            else:
                rtype = rtntype_a2n(word)
                if rtype is None:
                    raise invarg("Failed to parse rule type", word)
                action = rtype
            req.action = action
            table_ok = True
        args.advance()
    if not table_ok and add:
        req.table = RT_TABLE_MAIN
    try:
        if add:
            add_rule(ctx.ns, req)
        else:
            delete_rule(ctx.ns, req)
    except KernelError as err:
        raise netlink_fail(err) from None


# ---------------------------------------------------------------- list / flush


def _parse_filter(ctx, args: Args) -> dict:
    names = ctx.names
    f: dict = {}
    while args:
        word = args.cur
        if matches(word, "preference") or matches(word, "order") or matches(word, "priority"):
            pref = args.parsed(parse_uint, "preference value is invalid\n")
            f["pref"] = pref
        elif word == "not":
            f["not"] = True
        elif word in ("tos", "dsfield"):
            tos = args.parsed(names.dsfield_a2n, "TOS value is invalid\n")
            f["tos"] = tos
        elif word == "fwmark":
            value = args.next()
            head, slash, tail = value.partition("/")
            mark = parse_uint(head)
            if mark is None:
                raise invarg("fwmark value is invalid\n", head)
            f["fwmark"] = mark
            if slash:
                mask = parse_uint(tail)
                if mask is None:
                    raise invarg("fwmask value is invalid\n", tail)
                f["fwmask"] = mask
        elif word in ("dev", "iif"):
            value = args.next()
            if not _check_ifname(value):
                raise invarg('"iif"/"dev" not a valid ifname', value)
            f["iif"] = value
        elif word == "oif":
            value = args.next()
            if not _check_ifname(value):
                raise invarg('"oif" not a valid ifname', value)
            f["oif"] = value
        elif matches(word, "lookup") or matches(word, "table"):
            tid = args.parsed(names.table_a2n, "table id value is invalid\n")
            f["table"] = tid
        elif matches(word, "from") or matches(word, "src"):
            value = args.next()
            pf = get_prefix(value, "inet")
            f["src"] = pf
        elif matches(word, "protocol"):
            value = args.next()
            proto = names.proto_a2n(value)
            if proto is None:
                if value != "all":
                    raise invarg('invalid "protocol"\n', value)
            else:
                f["protocol"] = proto
        elif word == "ipproto":
            proto = args.parsed(inet_proto_a2n, 'Invalid "ipproto" value\n')
            f["ipproto"] = proto
        elif word in ("sport", "dport"):
            value = args.next()
            rng = _port_range(value)
            if rng is None:
                raise invarg(
                    "invalid port range\n" if word == "sport" else "invalid dport range\n", value
                )
            f[word] = rng
        else:
            if matches(word, "dst") or matches(word, "to"):
                word = args.next()
            f["dst"] = get_prefix(word, "inet")
        args.advance()
    return f


def _accepts(f: dict, rule) -> bool:
    if "pref" in f and f["pref"] != rule.pref:
        return False
    if f.get("not") and not rule.invert:
        return False
    for key, addr, plen in (("src", rule.src, rule.src_len), ("dst", rule.dst, rule.dst_len)):
        if key in f:
            pf = f[key]
            if pf.plen > plen or (pf.plen and not in_subnet(addr, pf.addr, pf.plen)):
                return False
    if "tos" in f and f["tos"] != rule.tos:
        return False
    if f.get("fwmark") and f["fwmark"] != rule.mark:
        return False
    if f.get("fwmask") and f["fwmask"] != (rule.mark_mask if (rule.mark or rule.mark_mask) else 0):
        return False
    if "iif" in f and rule.iifname != f["iif"]:
        return False
    if "oif" in f and rule.oifname != f["oif"]:
        return False
    if f.get("ipproto") and f["ipproto"] != rule.ipproto:
        return False
    for key in ("sport", "dport"):
        if key in f and f[key][0] and getattr(rule, key) != f[key]:
            return False
    if f.get("table") and f["table"] != rule.table:
        return False
    return True


def list_rules(ctx, args: Args, flush: bool) -> None:
    f = _parse_filter(ctx, args)
    ns = ctx.ns
    if flush:
        doomed = [
            r
            for r in ns.rules
            if _accepts(f, r)
            and r.pref != 0
            and ("protocol" not in f or f["protocol"] == r.protocol)
        ]
        for rule in doomed:
            ns.rules.remove(rule)
        return
    p = ctx.printer
    p.new_json_obj()
    for rule in ns.rules:
        if _accepts(f, rule):
            print_rule(ctx, p, rule)
    p.delete_json_obj()


def print_rule(ctx, p, rule) -> None:
    names = ctx.names
    p.open_object()
    p.number("priority", f"{rule.pref}:\t", rule.pref)
    if rule.invert:
        p.null("not", "not ")
    if rule.src_len:
        p.fp("from ")
        p.string("src", fmt(rule.src), fmt(rule.src))
        if rule.src_len != 32:
            p.number("srclen", f"/{rule.src_len}", rule.src_len)
    else:
        p.string("src", "from all", "all")
    if rule.dst_len:
        p.fp(" to ")
        p.string("dst", fmt(rule.dst), fmt(rule.dst))
        if rule.dst_len != 32:
            p.number("dstlen", f"/{rule.dst_len}", rule.dst_len)
    if rule.tos:
        ds = names.dsfield_n2a(rule.tos)
        p.string("tos", f" tos {ds}", ds)
    if rule.mark or rule.mark_mask:
        p.hex0x("fwmark", f" fwmark {c_hex(rule.mark)}", rule.mark)
        if rule.mark_mask != 0xFFFFFFFF:
            p.hex0x("fwmask", f"/{c_hex(rule.mark_mask)}", rule.mark_mask)
    for key, name, index in (
        ("iif", rule.iifname, rule.iifindex),
        ("oif", rule.oifname, rule.oifindex),
    ):
        if name:
            p.fp(f" {key} ")
            p.string(key, name, name)
            if index == -1:
                p.null(f"{key}_detached", " [detached]")
    if rule.uidrange is not None:
        p.number("uid_start", f" uidrange {rule.uidrange[0]}", rule.uidrange[0])
        p.number("uid_end", f"-{rule.uidrange[1]}", rule.uidrange[1])
    if rule.ipproto:
        pname = inet_proto_n2a(rule.ipproto)
        p.string("ipproto", f" ipproto {pname}", pname)
    for key, rng in (("sport", rule.sport), ("dport", rule.dport)):
        if rng is not None:
            if rng[0] == rng[1]:
                p.number(key, f" {key} {rng[0]}", rng[0])
            else:
                p.number(f"{key}_start", f" {key} {rng[0]}", rng[0])
                p.number(f"{key}_end", f"-{rng[1]}", rng[1])
    if rule.table:
        tname = names.table_n2a(rule.table)
        p.string("table", f" lookup {tname}", tname)
        if rule.suppress_prefixlen != -1:
            p.number(
                "suppress_prefixlen",
                f" suppress_prefixlength {rule.suppress_prefixlen}",
                rule.suppress_prefixlen,
            )
        if rule.suppress_ifgroup != -1:
            gname = next(
                (k for k, v in GROUPS.items() if v == rule.suppress_ifgroup),
                str(rule.suppress_ifgroup),
            )
            p.string("suppress_ifgroup", f" suppress_ifgroup {gname}", gname)
    if rule.realms:
        to = rule.realms & 0xFFFF
        frm = rule.realms >> 16
        if frm:
            p.string("flow_from", f" realms {names.realm_n2a(frm)}/", names.realm_n2a(frm))
        else:
            p.fp(" realms ")
        p.string("flow_to", names.realm_n2a(to), names.realm_n2a(to))
    if rule.action == FR_ACT_GOTO:
        p.number("goto", f" goto {rule.target}", rule.target)
        if rule.ctarget is None:
            p.null("unresolved", " [unresolved]")
    elif rule.action == FR_ACT_NOP:
        p.null("nop", " nop")
    elif rule.action != FR_ACT_TO_TBL:
        aname = rtntype_n2a(rule.action)
        p.string("action", f" {aname}", aname)
    if (rule.protocol and rule.protocol != RTPROT_KERNEL) or ctx.details:
        pname = names.proto_n2a(rule.protocol)
        p.string("protocol", f" proto {pname}", pname)
    p.fp("\n")
    p.close_object()
