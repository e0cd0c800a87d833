"""The model against the real tools: the same commands on the model and on Linux.

The harness of the differential tests, above the kernel model (which never
imports it). generate.py makes seeded random configurations and lookups,
real.py runs scripts in throwaway real namespaces, compare.py compares every
answer and shrinks a difference to a small reproducing script, topology.py
sends packets through small topologies on both. netfilter/ does the same for
iptables and iptables-restore.
"""

from .compare import Mismatch, ModelHost, check_case, check_script, minimize
from .generate import Case, generate
from .real import RealHost, available

__all__ = [
    "Case",
    "Mismatch",
    "ModelHost",
    "RealHost",
    "available",
    "check_case",
    "check_script",
    "generate",
    "minimize",
]
