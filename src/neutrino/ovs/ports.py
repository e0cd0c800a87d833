"""The ports of a bridge model: what each kind is, and its VLAN mode for NORMAL.

Kinds, as in the OVS database:
- `internal`: a device OVS creates (the bridge's own port, named like the
  bridge, is one, always OpenFlow port 65534 = LOCAL);
- `system`: an existing device attached (for neutrino, a veth end);
- `patch`: one end of a patch pair; `peer` names the port at the other end, on
  another bridge (port names are unique on a host, as in OVS);
- `vxlan`: a tunnel to `remote_ip`; `key` is "flow" (the VNI is the packet's
  tun_id, set with set_field:N->tun_id) or a fixed VNI.

`tag` makes a port an access port of that VLAN for the NORMAL action; without a
tag it is a trunk, of all VLANs or only `trunks` (VLAN 0 stands for untagged).
OpenFlow actions ignore both, exactly as OVS does.
"""

from dataclasses import dataclass

KINDS = ("internal", "system", "patch", "vxlan")


@dataclass(frozen=True, slots=True)
class Port:
    """One port of a bridge."""

    name: str
    ofport: int
    kind: str = "internal"
    tag: int | None = None
    trunks: tuple[int, ...] | None = None
    peer: str | None = None
    remote_ip: str | None = None
    key: str | int = "flow"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"port {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.kind == "patch" and not self.peer:
            raise ValueError(f"patch port {self.name} needs peer=<the port at the other end>")
        if self.kind == "vxlan" and not self.remote_ip:
            raise ValueError(f"vxlan port {self.name} needs remote_ip")
        if self.tag is not None and not 0 <= self.tag <= 4095:
            raise ValueError(f"port {self.name}: tag {self.tag} is not a VLAN ID (0..4095)")
        if self.trunks is not None and self.tag is not None:
            raise ValueError(f"port {self.name}: give tag (access) or trunks, not both")

    @property
    def is_access(self) -> bool:
        return self.tag is not None

    def trunks_vlan(self, vid: int) -> bool:
        """xbundle_trunks_vlan: does this trunk port carry VLAN vid (0: untagged)?"""
        return self.tag is None and (self.trunks is None or vid in self.trunks)

    def tunnel_key(self, tun_id: int) -> int:
        """The VNI a packet with this tun_id gets on this vxlan port."""
        return tun_id if self.key == "flow" else int(self.key)
