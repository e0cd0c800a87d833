"""Fixtures: an identity over the test config with a fake clock, and a client for its routes."""

import warnings

import pytest
from identity_support import PUBLIC_URL, FakeClock, config_dict
from starlette.applications import Starlette

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its test client; httpx is what the project installs.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from neutrino.identity import Identity, IdentityConfig


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def identity(clock) -> Identity:
    return Identity(IdentityConfig.from_dict(config_dict()), PUBLIC_URL + "/", clock=clock)


@pytest.fixture
def client(identity) -> TestClient:
    return TestClient(Starlette(routes=identity.routes()))
