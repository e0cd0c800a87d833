"""Reading `ofproto/trace` output: what the datapath would send, and out of which ports.

The "Datapath actions:" line of `ovs-appctl ofproto/trace` is a program for the
datapath, run in order on the packet: `set(eth(src=..,dst=..))`,
`push_vlan(vid=N,pcp=0)`, `pop_vlan`, a bare number (output to that datapath
port), `clone(...)` (run on a copy), and for a vxlan port with the userspace
datapath `tnl_push(tnl_port(..),header(...ipv4(dst=REMOTE)...vxlan(vni=N)),
out_port(..))` followed by the underlay's outputs. `outputs()` runs it and
returns one `Sent` per packet leaving a bridge port; a tunnel output is named
by its remote IP (the underlay part after it is not followed).
"""

import re
from dataclasses import dataclass

from neutrino.ovs.syntax import split_top_level


@dataclass(frozen=True, order=True)
class Sent:
    """A packet leaving a port: where, its MACs, its VLAN headers (outer first), its VNI."""

    bridge: str
    port: str
    dl_src: str
    dl_dst: str
    vlans: tuple[int, ...]
    vni: int | None = None


@dataclass
class _State:
    dl_src: str
    dl_dst: str
    vlans: list[int]

    def copy(self) -> "_State":
        return _State(self.dl_src, self.dl_dst, list(self.vlans))


class UnknownAction(ValueError):
    """A datapath action outside what the comparison understands."""


def datapath_actions(trace: str) -> str:
    """The text after "Datapath actions:" (the last such line)."""
    lines = [ln for ln in trace.splitlines() if ln.startswith("Datapath actions:")]
    if not lines:
        raise ValueError(f"no 'Datapath actions:' line in trace:\n{trace}")
    return lines[-1].split(":", 1)[1].strip()


def outputs(
    actions: str,
    dl_src: str,
    dl_dst: str,
    vlans: tuple[int, ...],
    dp_ports: dict[int, tuple[str, str]],
    tunnels: dict[str, tuple[str, str]],
) -> list[Sent]:
    """Run the datapath actions on a packet; dp_ports and tunnels (by remote IP) name the ports."""
    sent: list[Sent] = []
    _run(split_top_level(actions), _State(dl_src, dl_dst, list(vlans)), dp_ports, tunnels, sent)
    return sent


def _run(tokens, state: _State, dp_ports, tunnels, sent: list[Sent]) -> None:
    for token in tokens:
        if token == "drop":
            continue
        if token.isdigit():
            bridge, port = dp_ports[int(token)]
            sent.append(Sent(bridge, port, state.dl_src, state.dl_dst, tuple(state.vlans)))
        elif token.startswith("set(eth("):
            for key, value in re.findall(r"(src|dst)=([0-9a-f:]{17})", token):
                if key == "src":
                    state.dl_src = value
                else:
                    state.dl_dst = value
        elif token.startswith("push_vlan("):
            vid = int(re.search(r"vid=(\d+)", token).group(1))
            state.vlans.insert(0, vid)
        elif token == "pop_vlan":
            if state.vlans:
                state.vlans.pop(0)
        elif token.startswith("clone(") and token.endswith(")"):
            _run(split_top_level(token[6:-1]), state.copy(), dp_ports, tunnels, sent)
        elif token.startswith("tnl_push("):
            remote = re.search(r"ipv4\(src=[\d.]+,dst=([\d.]+)", token).group(1)
            vni = int(re.search(r"vni=(0x[0-9a-f]+|\d+)", token).group(1), 0)
            bridge, port = tunnels[remote]
            sent.append(Sent(bridge, port, state.dl_src, state.dl_dst, tuple(state.vlans), vni))
            return  # what follows is the underlay carrying the encapsulated packet
        else:
            raise UnknownAction(f"datapath action {token!r} is not understood")
