"""Shared fixtures: the real-kernel fixture skips, with the reason, where namespaces are unavailable."""

import pytest


@pytest.fixture(scope="session")
def real_kernel():
    """Use real network namespaces (root and iproute2); skip with the reason where absent."""
    from neutrino.selftest import available

    reason = available()
    if reason:
        pytest.skip(f"real kernel comparison skipped: {reason}")
    return True
