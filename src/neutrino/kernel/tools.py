"""ping and traceroute over the model, printing what the real tools print.

`traceroute` follows traceroute 2.1 (Debian's `traceroute -n -N 1 -w W`): UDP
probes from one source port to destination ports 33434 and up, one per probe,
`queries` probes per TTL, a hop's address printed when it differs from the
previous answer, `*` for no answer, `!H !N !P !X ...` for destination
unreachable codes, stopping at the hop where a probe was final. Times are not
printed (the model has no latency); a lost probe advances the model clock by
the wait time, an answered one by a tenth of a millisecond, which is what
matters for ICMP rate limits.
"""

from dataclasses import dataclass, field

from .inet import fmt, parse_ipv4
from .kernel import Kernel
from .packet import ICMP, ICMP_DEST_UNREACH, ICMP_ECHOREPLY, ICMP_TIME_EXCEEDED, icmp_echo, udp

UNREACH_MARKS = {
    0: "!N",
    1: "!H",
    2: "!P",
    3: "",
    4: "!F",
    5: "!S",
    6: "!N",
    7: "!H",
    9: "!X",
    10: "!X",
    11: "!N",
    12: "!H",
    13: "!X",
    14: "!V",
    15: "!C",
}
ANSWERED = 0.0001


def _addr(value) -> int:
    if isinstance(value, int):
        return value
    parsed = parse_ipv4(value)
    if parsed is None:
        raise ValueError(f"{value!r} is not an IPv4 address")
    return parsed


@dataclass
class Probe:
    ttl: int
    port: int
    answer: int | None = None  # address that answered
    mark: str = ""  # !H, !X...
    final: bool = False


@dataclass
class TracerouteResult:
    dst: int
    probes: list[Probe] = field(default_factory=list)
    max_hops: int = 30
    queries: int = 3
    packet_len: int = 60

    def text(self) -> str:
        out = [
            f"traceroute to {fmt(self.dst)} ({fmt(self.dst)}), {self.max_hops} hops max, {self.packet_len} byte packets"
        ]
        by_ttl: dict[int, list[Probe]] = {}
        for probe in self.probes:
            by_ttl.setdefault(probe.ttl, []).append(probe)
        for ttl, probes in by_ttl.items():
            line = f"{ttl:2d} "
            last = None
            for probe in probes:
                if probe.answer is None:
                    line += " *"
                    continue
                if last is None or probe.answer != last.answer or probe.mark != last.mark:
                    line += f" {fmt(probe.answer)}"
                if probe.mark:
                    line += f" {probe.mark}"
                last = probe
            out.append(line)
        return "\n".join(out) + "\n"

    def hops(self) -> list[list[str | None]]:
        """Per TTL, the answering address of each probe (None: no answer)."""
        by_ttl: dict[int, list] = {}
        for probe in self.probes:
            by_ttl.setdefault(probe.ttl, []).append(
                fmt(probe.answer) if probe.answer is not None else None
            )
        return list(by_ttl.values())


def traceroute(
    kernel: Kernel,
    namespace: str,
    dst,
    max_hops: int = 30,
    queries: int = 3,
    wait: float = 5.0,
    first_port: int = 33434,
    sport: int | None = None,
    src=None,
) -> TracerouteResult:
    """Run a UDP traceroute from a namespace of the model. Like traceroute's udp
    method, each probe has its own socket and so its own local port, unless
    `sport` fixes it (--sport)."""
    target = _addr(dst)
    result = TracerouteResult(target, max_hops=max_hops, queries=queries)
    source = _addr(src) if src is not None else 0
    n = 0
    for ttl in range(1, max_hops + 1):
        final = False
        for _ in range(queries):
            port = first_port + n
            n += 1
            probe = Probe(ttl, port)
            local = sport if sport is not None else kernel.netns(namespace).ephemeral_port()
            traces = [kernel.send(namespace, udp(source, target, local, port, ttl=ttl, length=60))]
            if not _answer(traces, namespace, port, local):
                traces += kernel.advance(wait)
            else:
                kernel.advance(ANSWERED)
            for ns_name, pkt in (item for t in traces for item in t.received):
                if ns_name != namespace or pkt.proto != ICMP or pkt.inner is None:
                    continue
                inner = pkt.inner
                if inner.proto != 17 or inner.dport != port or inner.sport != local:
                    continue
                if pkt.icmp_type == ICMP_TIME_EXCEEDED:
                    probe.answer = pkt.src
                elif pkt.icmp_type == ICMP_DEST_UNREACH:
                    probe.answer = pkt.src
                    probe.mark = UNREACH_MARKS.get(pkt.icmp_code, f"!<{pkt.icmp_code}>")
                    probe.final = True
                break
            final = final or probe.final
            result.probes.append(probe)
        if final:
            break
    return result


def _answer(traces, namespace: str, port: int, sport: int) -> bool:
    for trace in traces:
        for ns_name, pkt in trace.received:
            inner = pkt.inner
            if (
                ns_name == namespace
                and inner is not None
                and inner.dport == port
                and inner.sport == sport
            ):
                return True
    return False


@dataclass
class PingResult:
    dst: int
    sent: int = 0
    received: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.received > 0


def ping(
    kernel: Kernel,
    namespace: str,
    dst,
    count: int = 1,
    ident: int = 4242,
    interval: float = 1.0,
    ttl: int = 64,
    wait: float = 1.0,
) -> PingResult:
    """Send ICMP echo requests (`ping -c COUNT -W WAIT`); count replies and note errors."""
    target = _addr(dst)
    result = PingResult(target)
    for i in range(count):
        if i:
            kernel.advance(interval)
        result.sent += 1
        traces = [kernel.send(namespace, icmp_echo(0, target, ident=ident, ttl=ttl))]
        if not _echo_answer(traces, namespace, ident):
            traces += kernel.advance(wait)
        else:
            kernel.advance(ANSWERED)
        for ns_name, pkt in (item for t in traces for item in t.received):
            if ns_name != namespace or pkt.proto != ICMP:
                continue
            if pkt.icmp_type == ICMP_ECHOREPLY and pkt.icmp_id == ident:
                result.received += 1
                break
            if pkt.inner is not None and pkt.inner.icmp_id == ident:
                kind = (
                    "Time to live exceeded"
                    if pkt.icmp_type == ICMP_TIME_EXCEEDED
                    else "Destination Unreachable"
                )
                result.errors.append(f"From {fmt(pkt.src)}: {kind}")
                break
    return result


def _echo_answer(traces, namespace: str, ident: int) -> bool:
    for trace in traces:
        for ns_name, pkt in trace.received:
            if (
                ns_name == namespace
                and pkt.proto == ICMP
                and (
                    (pkt.icmp_type == ICMP_ECHOREPLY and pkt.icmp_id == ident)
                    or (pkt.inner is not None and pkt.inner.icmp_id == ident)
                )
            ):
                return True
    return False
