"""The model against the real kernel: random configurations, random lookups, same answers.

Each configuration (seeded; sizes up to 2,000 routes and 200 rules) is built in
fresh real namespaces and in the model; every configuration command, the
resulting tables, rules, addresses and links, and 500 `ip -j route get` lookups
must give the same answer or the same error. 20 configurations make 10,000
lookups per run. NEUTRINO_DIFF_SEED moves the seeds, NEUTRINO_DIFF_CONFIGS
changes how many. A difference fails with a small script that reproduces it.
"""

import os

import pytest

from neutrino.selftest import check_case, check_script, generate, minimize
from neutrino.selftest.generate import sizes_for

SEED = int(os.environ.get("NEUTRINO_DIFF_SEED", "0"))
CONFIGS = int(os.environ.get("NEUTRINO_DIFF_CONFIGS", "20"))
QUERIES = 500


@pytest.mark.parametrize("index", range(CONFIGS))
def test_model_answers_like_the_kernel(real_kernel, index):
    seed = SEED + index
    routes, rules = sizes_for(seed, 2000, 200)
    case = generate(seed, routes=routes, rules=rules, queries=QUERIES)
    assert len(case.queries) == QUERIES
    found = check_case(case)
    if found:
        pytest.fail(minimize(found[0], budget_s=45).report(), pytrace=False)


def test_a_wrong_model_is_caught_and_shrunk(real_kernel, monkeypatch):
    """The harness is not blind: break tos matching in the model and it must notice."""
    from neutrino.kernel import fib

    original = fib._alias_ok
    monkeypatch.setattr(
        fib, "_alias_ok", lambda route, flow, ns, ign: original(route, flow, ns, ign) or True
    )
    config = [
        "link add e0 type veth peer name f0",
        "link set e0 up",
        "link set f0 up",
        "addr add 10.0.0.1/24 dev e0",
        "addr add 10.1.0.1/24 dev f0",
        "route add 198.51.100.0/24 dev f0 tos 0x10",
        "route add 198.51.100.0/24 dev e0",
        "route add 203.0.113.0/24 dev e0",
    ]
    found = check_script(1, config, ["route get 198.51.100.7"], dumps=False)
    assert [m.kind for m in found] == ["query"]
    small = minimize(found[0], budget_s=30)
    assert "route add 198.51.100.0/24 dev f0 tos 0x10" in small.config
    assert "route add 203.0.113.0/24 dev e0" not in small.config
    assert "route get 198.51.100.7" in small.report()
