"""Fixtures of the netfilter tests: the real iptables where it can be used, else a skip with the reason."""

import pytest


@pytest.fixture(scope="session")
def real_iptables():
    """The real iptables 1.8.9 (nf_tables) in throwaway namespaces; skip with the reason if absent."""
    from neutrino.selftest.netfilter.real import available

    reason = available()
    if reason:
        pytest.skip(f"real iptables comparison skipped: {reason}")
    return True
