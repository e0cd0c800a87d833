"""Fixtures for the lab tests: labs with their own prefix and directory, always taken down.

`lab` is one lab per module (2 computes, 1 network node, no agents); `new_lab`
makes more (small ones) inside a test. Both skip, with the reason, where the lab
cannot run (not root, iproute2/OVS/curl missing).
"""

import shutil
import tempfile

import pytest
from lab_support import unique_prefix

from neutrino.lab.build import up
from neutrino.lab.shell import unavailable
from neutrino.lab.teardown import down


def lab_unavailable() -> str | None:
    reason = unavailable()
    if reason is None and not shutil.which("curl"):
        reason = "curl is not installed"
    return reason


@pytest.fixture(scope="session")
def lab_ok():
    reason = lab_unavailable()
    if reason:
        pytest.skip(f"lab tests skipped: {reason}")


@pytest.fixture
def new_lab(lab_ok):
    """make(computes=1, network_nodes=0, **kw) -> LabState; every lab made is taken down."""
    made: list[tuple[str, str]] = []

    def make(computes: int = 1, network_nodes: int = 0, **kw):
        directory = tempfile.mkdtemp(prefix="ntlab-")
        prefix = unique_prefix()
        made.append((directory, prefix))
        return up(computes, network_nodes, directory, prefix, start_agents=False, **kw)

    yield make
    for directory, prefix in made:
        down(directory, prefix)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(lab_ok):
    directory = tempfile.mkdtemp(prefix="ntlab-")
    prefix = unique_prefix()
    try:
        yield up(2, 1, directory, prefix, start_agents=False)
    finally:
        down(directory, prefix)
        shutil.rmtree(directory, ignore_errors=True)
