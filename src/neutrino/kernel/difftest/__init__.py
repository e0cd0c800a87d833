"""Differential tests of the kernel model: the same commands on the model and on Linux.

generate.py makes seeded random configurations and lookups, real.py runs
scripts in throwaway real namespaces, compare.py compares every answer and
shrinks a difference to a small reproducing script.
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
