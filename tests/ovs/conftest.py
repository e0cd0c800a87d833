"""The real-OVS fixture: one private OVS per test session, skipped with the reason where impossible."""

import pytest
from ovs_support import private_ovs, unavailable


@pytest.fixture(scope="session")
def real_ovs():
    """A private ovsdb-server + ovs-vswitchd in their own namespace (see ovs_support)."""
    reason = unavailable()
    if reason:
        pytest.skip(f"real OVS tests skipped: {reason}")
    with private_ovs() as ovs:
        yield ovs
