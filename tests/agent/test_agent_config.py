"""The agent's configuration: file, environment and flags, each key checked by name."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neutrino.agent.config import AgentConfig, load_agent_config
from neutrino.cli import app
from neutrino.config import ConfigError
from neutrino.paths import DEFAULT_RUN_DIR

FILE = """\
[agent]
host = "compute1"
mode = "dvr"
server = "http://127.0.0.1:9696"
tunnel_ip = "172.30.0.10"
run_dir = "/tmp/from-file"
heartbeat = 5
username = "admin"
password = "secret"
"""
REQUIRED = {
    "host": "h1",
    "mode": "dvr_snat",
    "server": "http://127.0.0.1:9696",
    "tunnel_ip": "172.30.0.11",
}


def _file(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path):
    environ = {"NEUTRINO_AGENT_MODE": "dvr_snat", "NEUTRINO_AGENT_HEARTBEAT": "7.5", "HOME": "/"}
    cfg = load_agent_config(
        _file(tmp_path), environ, {"host": "compute9", "mode": None, "netns": "nt-compute9"}
    )
    assert cfg == AgentConfig(
        host="compute9",  # flag over file
        mode="dvr_snat",  # environment over file (the flag was not given)
        server="http://127.0.0.1:9696",
        tunnel_ip="172.30.0.10",
        netns="nt-compute9",
        run_dir=Path("/tmp/from-file"),
        username="admin",
        password="secret",
        heartbeat=7.5,
    )


def test_defaults_without_a_file():
    cfg = load_agent_config(None, {}, REQUIRED)
    assert cfg.run_dir == DEFAULT_RUN_DIR
    assert (cfg.namespace_prefix, cfg.netns, cfg.ovs_db, cfg.username) == ("", None, None, None)
    assert (cfg.heartbeat, cfg.resync) == (10.0, 300.0)


def test_an_unknown_key_is_refused_by_its_name_with_the_allowed_ones(tmp_path):
    path = _file(tmp_path, FILE + 'tunnel_address = "172.30.0.10"\n')
    with pytest.raises(ConfigError, match=r"\[agent\] tunnel_address: unknown setting") as e:
        load_agent_config(path, {})
    assert "tunnel_ip" in str(e.value) and "run_dir" in str(e.value)
    with pytest.raises(ConfigError, match="NEUTRINO_AGENT_TUNNEL: unknown setting") as e:
        load_agent_config(None, {"NEUTRINO_AGENT_TUNNEL": "1"}, REQUIRED)
    assert "allowed: NEUTRINO_AGENT_HOST, NEUTRINO_AGENT_MODE" in str(e.value)
    with pytest.raises(ConfigError, match=r"\[server\]: unknown section; allowed: \[agent\]"):
        load_agent_config(_file(tmp_path, "[server]\nport = 1\n"), {})


def test_a_bad_mode_is_refused_with_where_it_came_from_and_the_allowed_modes(tmp_path):
    with pytest.raises(ConfigError, match=r"--mode = 'compute': allowed: legacy, dvr, dvr_snat"):
        load_agent_config(None, {}, {**REQUIRED, "mode": "compute"})
    with pytest.raises(ConfigError, match=r"NEUTRINO_AGENT_MODE = 'snat': allowed: legacy, dvr"):
        load_agent_config(_file(tmp_path), {"NEUTRINO_AGENT_MODE": "snat"})


def test_bad_values_say_what_is_allowed(tmp_path):
    cases = [
        ({"tunnel_ip": "172.30.0"}, "--tunnel-ip = '172.30.0': must be an IPv4 address"),
        ({"server": "127.0.0.1:9696"}, "must be a URL starting http:// or https://"),
        ({"heartbeat": 0}, "--heartbeat = 0: must be a number of seconds above 0"),
        ({"host": ""}, "--host is empty: host must be given"),
    ]
    for flags, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_agent_config(None, {}, {**REQUIRED, **flags})
    with pytest.raises(ConfigError, match=r"NEUTRINO_AGENT_RESYNC='soon': must be a number"):
        load_agent_config(None, {"NEUTRINO_AGENT_RESYNC": "soon"}, REQUIRED)
    with pytest.raises(ConfigError, match=r"NEUTRINO_AGENT_WATCH='maybe': must be one of 1, true"):
        load_agent_config(None, {"NEUTRINO_AGENT_WATCH": "maybe"}, REQUIRED)
    with pytest.raises(ConfigError, match=r"\[agent\] heartbeat = 'often': must be a number"):
        load_agent_config(_file(tmp_path, FILE.replace("heartbeat = 5", 'heartbeat = "often"')))


def test_a_username_without_a_password_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[agent\] username = 'admin' without a password"):
        load_agent_config(_file(tmp_path, FILE.replace('password = "secret"\n', "")), {})


def test_what_is_missing_is_named_with_the_three_ways_to_give_it():
    with pytest.raises(ConfigError) as e:
        load_agent_config(None, {}, {"host": "h1", "mode": "dvr"})
    assert str(e.value) == (
        "missing: server (give --server, NEUTRINO_AGENT_SERVER or [agent] server); "
        "tunnel_ip (give --tunnel-ip, NEUTRINO_AGENT_TUNNEL_IP or [agent] tunnel_ip)"
    )


def _neutrino_agent(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neutrino.cli", "agent", *args],
        capture_output=True,
        text=True,
        env=env,
    )


def test_the_command_refuses_a_bad_mode_and_an_unknown_key_before_doing_anything(tmp_path):
    proc = _neutrino_agent("--config", str(_file(tmp_path)), "--mode", "dvr-snat", "--check")
    assert proc.returncode == 2
    assert "neutrino agent: --mode = 'dvr-snat': allowed: legacy, dvr, dvr_snat" in proc.stderr
    proc = _neutrino_agent("--config", str(_file(tmp_path, FILE + "port = 9696\n")), "--check")
    assert proc.returncode == 2
    assert "[agent] port: unknown setting; allowed: host, mode, server" in proc.stderr
    proc = _neutrino_agent("--config", str(tmp_path / "absent.toml"))
    assert proc.returncode == 2 and "absent.toml: not found" in proc.stderr


class _Recorded:
    """Stands in for the agent and its data plane: keeps what the command gave them."""

    made: list = []

    def __init__(self, *args, **kwargs):
        self.made.append((args, kwargs))

    def check(self) -> list[str]:
        return []


def test_agent_check_runs_with_the_settings_of_file_environment_and_flags(tmp_path, monkeypatch):
    monkeypatch.setattr("neutrino.agent.loop.Agent", _Recorded)
    monkeypatch.setattr("neutrino.dataplane.LinuxDataplane", _Recorded)
    _Recorded.made = []
    result = CliRunner().invoke(
        app,
        ["agent", "--config", str(_file(tmp_path)), "--ovs-db", "unix:/x/db.sock", "--check"],
        env={
            "NEUTRINO_AGENT_NAMESPACE_PREFIX": "nt-c1-",
            "NEUTRINO_AGENT_RESYNC": "60",
            "NEUTRINO_AGENT_WATCH": "no",
        },
    )
    assert result.exit_code == 0, result.output
    (_, dataplane), (agent, agent_options) = _Recorded.made
    assert dataplane == {
        "prefix": "nt-c1-",
        "host_netns": None,
        "ovs_db": "unix:/x/db.sock",
        "run_dir": Path("/tmp/from-file"),
    }
    assert agent[:3] == ("compute1", "dvr", "172.30.0.10")
    [reporter] = agent_options.pop("workers")  # keepalived's states to the server
    assert (reporter.host, reporter.run_dir) == ("compute1", Path("/tmp/from-file"))
    assert agent_options == {"heartbeat": 5.0, "resync": 60.0, "watch": False}
    client = agent[3]
    assert (client.url, client.auth_url, client.username) == (
        "http://127.0.0.1:9696",
        "http://127.0.0.1:9696/v3",
        "admin",
    )
    client.close()
