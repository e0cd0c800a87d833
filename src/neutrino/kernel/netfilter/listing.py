"""What iptables prints: -L (table or verbose), -S, the -v echo of a rule, and iptables-save.

The column layout follows iptables' print_header/print_firewall, including
its quirks: protocol numbers under -n, counters in K/M/G/T units unless -x,
"anywhere" and host or network names (from the name databases in names.py)
unless -n, the chain's reference count for user chains.
"""

import time

from .. import inet
from . import names
from .errors import VERSION

MAX_U64 = (1 << 64) - 1


def number(value: int, kmg: bool, table: bool = True) -> str:
    """xtables_print_num."""
    if not kmg:
        return f"{value:8d} " if table else f"{value} "
    if value <= 99999:
        return f"{value:5d} " if table else f"{value} "
    for unit in "KMG":
        value = ((value + 500) & MAX_U64) // 1000
        if value <= 9999:
            return f"{value:4d}{unit} " if table else f"{value}{unit} "
    value = ((value + 500) & MAX_U64) // 1000
    return f"{value:4d}T " if table else f"{value}T "


class Format:
    """The format flags of one listing."""

    def __init__(self, numeric=False, verbose=False, exact=False, line_numbers=False,
                 notable=False):  # fmt: skip
        self.numeric = numeric
        self.counts = verbose and not notable
        self.via = verbose
        self.kmg = not exact
        self.line_numbers = line_numbers
        self.notable = notable


RULE_ECHO = Format(numeric=True, verbose=True, notable=True)


def addr_text(addr: int, mask: int, numeric: bool) -> str:
    """ipv4_addr_to_string."""
    if mask == 0 and not numeric:
        return "anywhere"
    if numeric:
        text = inet.fmt(addr)
    else:
        text = names.host_name(addr) or names.network_name(addr) or inet.fmt(addr)
    plen = inet.mask_to_plen(mask)
    if plen is None:
        return f"{text}/{inet.fmt(mask)}"
    if plen == 32:
        return text
    return f"{text}/{plen}"


def header(chain, fmt: Format, refs: int) -> str:
    out = [f"Chain {chain.name}"]
    if chain.builtin:
        out.append(f" (policy {chain.policy}")
        if fmt.counts:
            out.append(" " + number(chain.pcnt, fmt.kmg, False) + "packets, ")
            out.append(number(chain.bcnt, fmt.kmg, False) + "bytes")
        out.append(")\n")
    else:
        out.append(f" ({refs} references)\n")
    if fmt.line_numbers:
        out.append(f"{'num':<4s} ")
    if fmt.counts:
        if fmt.kmg:
            out.append(f"{'pkts':>5s} {'bytes':>5s} ")
        else:
            out.append(f"{'pkts':>8s} {'bytes':>10s} ")
    out.append(f"{'target':<9s} ")
    out.append(" prot ")
    out.append("opt")
    if fmt.via:
        out.append(f" {'in':<6s} {'out':<6s} ")
    out.append(f" {'source':<19s} ")
    out.append(f" {'destination':<19s} ")
    out.append("\n")
    return "".join(out)


def rule_line(rule, num: int, fmt: Format) -> str:
    """print_firewall: one rule of a listing (or the -v echo when fmt.notable)."""
    table = not fmt.notable
    out = []
    if fmt.line_numbers:
        out.append(f"{num:<4d} " if table else f"{num} ")
    if fmt.counts:
        out.append(number(rule.pcnt, fmt.kmg, table))
        out.append(number(rule.bcnt, fmt.kmg, table))
    target = rule.target_name
    out.append(f"{target:<9s} " if table else f"{target} ")
    out.append("!" if rule.proto_inv else " ")
    pname = names.proto_name(rule.proto, not fmt.numeric)
    if (fmt.numeric and table) or pname is None:
        out.append(f"{rule.proto:<5d}" if table else f"{rule.proto} ")
    else:
        out.append(f"{pname:<5s}" if table else f"{pname} ")
    if fmt.notable:
        out.append("opt ")
    out.append("!" if rule.frag_inv else "-")
    out.append("f" if rule.frag else "-")
    out.append(" ")
    if fmt.via:
        anyname = "*" if fmt.numeric else "any"
        iface_in = ("!" if rule.iinv else "") + (rule.iniface or anyname)
        iface_out = ("!" if rule.oinv else "") + (rule.outiface or anyname)
        if table:
            out.append(f" {iface_in:<6s} {iface_out:<6s} ")
        else:
            out.append(f"in {iface_in} out {iface_out} ")
    src = addr_text(rule.src, rule.smask, fmt.numeric)
    dst = addr_text(rule.dst, rule.dmask, fmt.numeric)
    out.append("!" if rule.sinv else " ")
    out.append(f"{src:<19s} " if table else f"{src} ")
    out.append("!" if rule.dinv else " ")
    out.append(f"{dst:<19s} " if table else f"-> {dst}")
    if fmt.notable:
        out.append("  ")
    if rule.goto:
        out.append("[goto] ")
    for match in rule.matches:
        out.append(match.show(fmt.numeric))
    if rule.target is not None:
        out.append(rule.target.show(fmt.numeric))
    out.append("\n")
    return "".join(out)


def list_chains(table, chains, fmt: Format, rulenum: int = 0) -> str:
    """iptables -L [chain [rulenum]]."""
    out = []
    for chain in chains:
        if rulenum:
            if rulenum <= len(chain.rules):
                out.append(rule_line(chain.rules[rulenum - 1], rulenum, fmt))
            continue
        if out:
            out.append("\n")
        refs = 0 if chain.builtin else table.references(chain.name)
        out.append(header(chain, fmt, refs))
        for num, rule in enumerate(chain.rules, 1):
            out.append(rule_line(rule, num, fmt))
    return "".join(out)


def list_rules(chains, counters: bool, rulenum: int = 0) -> str:
    """iptables -S [chain [rulenum]]: policies and chains first, then the rules."""
    out = []
    if not rulenum:
        for chain in chains:
            if chain.builtin:
                text = f"-P {chain.name} {chain.policy}"
                if counters:
                    text += f" -c {chain.pcnt} {chain.bcnt}"
                out.append(text + "\n")
            else:
                out.append(f"-N {chain.name}\n")
    for chain in chains:
        for num, rule in enumerate(chain.rules, 1):
            if rulenum and num != rulenum:
                continue
            out.append(f"-A {chain.name}{rule.spec(counters)}\n")
    return "".join(out)


def save_table(table, counters: bool, stamp: str) -> str:
    """One table as iptables-save prints it."""
    out = [f"# Generated by iptables-save v{VERSION} (nf_tables) on {stamp}\n", f"*{table.name}\n"]
    chains = table.ordered()
    for chain in chains:
        if chain.builtin:
            out.append(f":{chain.name} {chain.policy} [{chain.pcnt}:{chain.bcnt}]\n")
        else:
            out.append(f":{chain.name} - [0:0]\n")
    for chain in chains:
        for rule in chain.rules:
            prefix = f"[{rule.pcnt}:{rule.bcnt}] " if counters else ""
            out.append(f"{prefix}-A {chain.name}{rule.spec()}\n")
    out.append("COMMIT\n")
    out.append(f"# Completed on {stamp}\n")
    return "".join(out)


def timestamp(now: float | None = None) -> str:
    return time.ctime(now)
