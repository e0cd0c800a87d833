"""The agent's configuration: one TOML file, environment variables and flags.

    [agent]
    host = "compute1"                   # this host's name (as ports are bound to it)
    mode = "dvr"                        # legacy, dvr or dvr_snat (see neutrino.modes)
    server = "http://127.0.0.1:9696"    # the API server's URL
    tunnel_ip = "172.30.0.10"           # this host's VXLAN endpoint address
    namespace_prefix = ""               # put before every namespace name
    netns = "nt-compute1"               # the namespace that is this host (default: ours)
    ovs_db = "unix:/run/openvswitch/db.sock"   # OVS database socket (default: OVS's)
    run_dir = "/run/neutrino"           # the data plane's files (keepalived's)
    username = "admin"                  # Keystone credentials; none: noauth
    password = "secret"
    project = "admin"
    auth_url = "http://127.0.0.1:9696/v3"   # where to log in (default: <server>/v3)
    heartbeat = 10                      # seconds between heartbeats
    resync = 300                        # seconds between full resyncs
    watch = true                        # watch the host for changes behind our back

Every key is also an environment variable, NEUTRINO_AGENT_<KEY> (as the server's
NEUTRINO_SERVER_<KEY>), e.g. NEUTRINO_AGENT_MODE, and a flag, --<key> with dashes
(--tunnel-ip; a switch: --watch / --no-watch). Flags win over the environment, which wins over the file, which
wins over the defaults. host, mode, server and tunnel_ip have no default. An
unknown key, section or NEUTRINO_AGENT_ variable is refused with its name and the
allowed ones; a bad value with where it came from and what is allowed.
"""

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from ipaddress import AddressValueError, IPv4Address
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..modes import AGENT_MODES
from ..paths import DEFAULT_RUN_DIR

ENV_PREFIX = "NEUTRINO_AGENT_"
SECTION = "agent"


@dataclass(frozen=True)
class AgentConfig:
    """Every setting of one host's agent, checked."""

    host: str
    mode: str
    server: str
    tunnel_ip: str
    namespace_prefix: str = ""
    netns: str | None = None
    ovs_db: str | None = None
    run_dir: Path = DEFAULT_RUN_DIR
    username: str | None = None
    password: str | None = None
    project: str | None = None
    auth_url: str | None = None
    heartbeat: float = 10.0
    resync: float = 300.0
    watch: bool = True


KEYS = tuple(f.name for f in fields(AgentConfig))
REQUIRED = ("host", "mode", "server", "tunnel_ip")
SECONDS = ("heartbeat", "resync")
PATHS = ("run_dir",)
SWITCHES = ("watch",)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def load_agent_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> AgentConfig:
    """The file's [agent] table (if a file is given), then NEUTRINO_AGENT_* from
    `environ` (default: this process's), then `flags` (key -> value, None = not
    given); every value checked. ConfigError names what is wrong."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    if path is not None:
        for key, value in _file_table(Path(path)).items():
            values[key], where[key] = value, f"{path}: [{SECTION}] {key}"
    for name, text in environ.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].lower()
            if key not in KEYS:
                raise ConfigError(f"{name}: unknown setting; allowed: {_allowed(env_name)}")
            values[key], where[key] = _from_text(key, text, name), name
    for key, value in (flags or {}).items():
        if key not in KEYS:
            raise ConfigError(f"{flag(key)}: unknown setting; allowed: {_allowed(flag)}")
        if value is not None:
            values[key], where[key] = value, flag(key)
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise ConfigError(
            "missing: "
            + "; ".join(f"{k} (give {flag(k)}, {env_name(k)} or [{SECTION}] {k})" for k in missing)
        )
    for key, value in values.items():
        values[key] = _checked(key, value, where[key])
    if values.get("username") and values.get("password") is None:
        raise ConfigError(
            f"{where['username']} = {values['username']!r} without a password: give "
            f"{flag('password')}, {env_name('password')} or [{SECTION}] password "
            "(or no username, for a server with auth_strategy noauth)"
        )
    return AgentConfig(**values)


def _file_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except OSError as e:
        raise ConfigError(f"config file {path}: cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: not valid TOML: {e}") from None
    for section in data:
        if section != SECTION:
            raise ConfigError(f"{path}: [{section}]: unknown section; allowed: [{SECTION}]")
    table = data.get(SECTION, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {SECTION} must be a table ([{SECTION}])")
    for key in table:
        if key not in KEYS:
            raise ConfigError(
                f"{path}: [{SECTION}] {key}: unknown setting; allowed: {', '.join(KEYS)}"
            )
    return table


def _allowed(spell) -> str:
    return ", ".join(map(spell, KEYS))


def _from_text(key: str, text: str, name: str) -> Any:
    """An environment variable's text as the setting's type."""
    if key in SECONDS:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{name}={text!r}: must be a number of seconds") from None
    if key in SWITCHES:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ConfigError(f"{name}={text!r}: must be one of {', '.join(TRUE + FALSE)}")
    return text


def _checked(key: str, value: Any, where: str) -> Any:
    """The value as the setting holds it; ConfigError saying where it came from if bad."""
    if key in SECONDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigError(f"{where} = {value!r}: must be a number of seconds above 0")
        return float(value)
    if key in SWITCHES:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: must be true or false")
        return value
    if key in PATHS:
        if not isinstance(value, str | Path) or not str(value):
            raise ConfigError(f"{where} = {value!r}: must be a directory's path")
        return Path(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} = {value!r}: must be a string")
    if key in REQUIRED and not value:
        raise ConfigError(f"{where} is empty: {key} must be given")
    if key == "mode" and value not in AGENT_MODES:
        raise ConfigError(f"{where} = {value!r}: allowed: {', '.join(AGENT_MODES)}")
    if key == "tunnel_ip":
        try:
            IPv4Address(value)
        except AddressValueError:
            raise ConfigError(f"{where} = {value!r}: must be an IPv4 address") from None
    if key in ("server", "auth_url") and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where} = {value!r}: must be a URL starting http:// or https://")
    return value
