"""Real data plane tests need root, namespaces, OVS and iptables; skipped with the reason otherwise."""

import pytest
from dataplane_support import missing


@pytest.fixture(scope="session")
def real_dataplane():
    reason = missing()
    if reason:
        pytest.skip(f"real data plane tests skipped: {reason}")
    return True
