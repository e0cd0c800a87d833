"""The agent against a real server: registration, the watched view, plans, port status.

The data plane here records what it is asked to apply (the real one is tested in
tests/dataplane); everything else is real: the server process, HTTP, the planner.
"""

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from server_support import Api, running_server  # noqa: E402

from neutrino.agent.client import ServerClient, ServerError  # noqa: E402
from neutrino.agent.loop import Agent  # noqa: E402
from neutrino.dataplane.delta import ApplyResult, Pending  # noqa: E402
from neutrino.dataplane.protocol import Dataplane  # noqa: E402
from neutrino.dataplane.watch import WatchTargets  # noqa: E402
from neutrino.plan.state import HostState  # noqa: E402


class RecordingDataplane:
    """Stands in for LinuxDataplane (a `Dataplane`): keeps every state it is given; the
    OVS ports of the devices named in `pending` wait for them."""

    def __init__(self, pending: set[str] = frozenset()):
        self.applied: list[HostState] = []
        self.resyncs = 0
        self.pending = set(pending)

    def apply(self, state: HostState) -> ApplyResult:
        self.applied.append(state)
        waiting = [
            Pending(
                "ovs-port", ("br-int", name), "its device does not exist yet", frozenset([name])
            )
            for name in sorted(self.pending)
        ]
        return ApplyResult(pending=waiting)

    def resync(self, kinds=None) -> None:
        self.resyncs += 1

    def watcher(self, requests):
        return None  # nothing behind the agent's back here

    def watch_targets(self) -> WatchTargets:
        return WatchTargets()

    def drift(self, state: HostState) -> list[str]:
        return [] if self.applied and self.applied[-1] == state else ["not applied"]

    def remove_all(self) -> ApplyResult:
        self.applied.append(HostState(host=""))
        return ApplyResult()


def test_the_recording_dataplane_is_a_dataplane():
    dataplane: Dataplane = RecordingDataplane()  # checked by mypy; and at run time:
    assert all(callable(getattr(dataplane, name)) for name in ("apply", "drift", "resync"))


def test_agent_registers_watches_plans_and_reports_ports(tmp_path):
    with running_server(tmp_path, auth="noauth") as server:
        api = Api(server.url)
        client = ServerClient(server.url, noauth=True)
        dataplane = RecordingDataplane()
        agent = Agent("compute1", "dvr", "192.0.2.11", client, dataplane, heartbeat=1, resync=600)
        snat = Agent(
            "network1",
            "dvr_snat",
            "192.0.2.12",
            ServerClient(server.url, noauth=True),
            RecordingDataplane(),
            heartbeat=1,
            resync=600,
        )
        threads = [threading.Thread(target=a.run, daemon=True) for a in (agent, snat)]
        for t in threads:
            t.start()
        try:
            _wait(lambda: len(api.get("/v2.0/agents").body["agents"]) == 2)
            hosts = {a["host"]: a for a in api.get("/v2.0/agents").body["agents"]}
            assert (
                hosts["compute1"]["alive"]
                and hosts["compute1"]["configurations"]["agent_mode"] == "dvr"
            )
            public = api.post(
                "/v2.0/networks",
                {
                    "network": {
                        "name": "public",
                        "router:external": True,
                        "provider:network_type": "flat",
                        "provider:physical_network": "public",
                    }
                },
            ).body["network"]
            api.post(
                "/v2.0/subnets", {"subnet": {"network_id": public["id"], "cidr": "198.51.100.0/24"}}
            )
            net = api.post("/v2.0/networks", {"network": {"name": "blue"}}).body["network"]
            sub = api.post(
                "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.1.0/24"}}
            ).body["subnet"]
            router = api.post(
                "/v2.0/routers",
                {"router": {"name": "r1", "external_gateway_info": {"network_id": public["id"]}}},
            ).body["router"]
            api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
            vm = api.post(
                "/v2.0/ports",
                {
                    "port": {
                        "network_id": net["id"],
                        "device_owner": "compute:nova",
                        "binding:host_id": "compute1",
                    }
                },
            ).body["port"]
            _wait(
                lambda: (
                    dataplane.applied
                    and f"qrouter-{router['id']}" in dataplane.applied[-1].namespaces
                )
            )
            state = dataplane.applied[-1]
            assert any(p.name == f"tap{vm['id'][:11]}" for p in state.ovs_ports)
            _wait(lambda: api.get(f"/v2.0/ports/{vm['id']}").body["port"]["status"] == "ACTIVE")
            assert agent.check() == []
            applied = len(dataplane.applied)
            api.put(f"/v2.0/networks/{net['id']}", {"network": {"description": "x"}})
            _wait(
                lambda: (
                    agent.revision >= api.get("/neutrino/v1/hosts/compute1/view").body["revision"]
                )
            )
            assert dataplane.applied[-1] == state and len(dataplane.applied) >= applied
        finally:
            agent.stop()
            snat.stop()
            for t in threads:
                t.join(timeout=10)


def _wait(condition, seconds: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


class QuietServer:
    """A server where nothing changes: a long-poll answers the same revision after `wait` s."""

    def __init__(self):
        self.waits: list[int] = []
        self.beats = 0

    def heartbeat(self, *args, **kwargs) -> dict:
        self.beats += 1
        return {}

    def view(self, host: str, after: int = -1, wait: int = 0):
        self.waits.append(wait)
        time.sleep(wait)
        return after, None


def test_an_idle_agent_long_polls_and_does_not_spin_before_a_heartbeat():
    # With a heartbeat due in under a second the agent used to ask for wait=0, and the
    # server answered at once, again and again until the beat: ~50 requests per beat.
    server = QuietServer()
    agent = Agent("h1", "dvr", "172.30.0.10", server, RecordingDataplane(), heartbeat=1.0)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    time.sleep(3.5)
    agent.stop()
    thread.join(timeout=5)
    assert server.waits and all(w >= 1 for w in server.waits), server.waits
    assert len(server.waits) <= 5 and server.beats >= 3, (server.waits, server.beats)


def test_a_connection_closed_without_an_answer_is_a_server_error_the_agent_survives():
    # Behind HAProxy, a heartbeat (a POST) in flight on a server that dies gets no answer
    # (HAProxy never replays a POST): the agent logged nothing and exited on httpx's error.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def hang_up() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            conn.close()  # no answer at all

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    client = ServerClient(f"http://127.0.0.1:{port}", noauth=True, timeout=5)
    agent = Agent("h1", "dvr", "172.30.0.10", client, RecordingDataplane())
    try:
        with pytest.raises(ServerError, match="POST /v2.0/agents/heartbeat: no answer"):
            client.heartbeat("h1", "dvr", "172.30.0.10")
        assert agent.safely(lambda: client.heartbeat("h1", "dvr", "172.30.0.10")) is False
        assert agent.safely(lambda: client.port_status("p1", "ACTIVE")) is False
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        client.close()
