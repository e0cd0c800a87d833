"""The server's configuration: one TOML file plus environment overrides.

    [server]
    host = "127.0.0.1"
    port = 9696
    public_url = "http://127.0.0.1:9696"      # what clients are told (links, catalog)
    database = "sqlite:////var/lib/neutrino/neutrino.db"   # or postgresql+psycopg://...
    auth_strategy = "keystone"                 # or "noauth"
    noauth_project = "admin"                   # project of the noauth caller
    router_distributed = true                  # default for new routers
    agent_down_time = 75                       # seconds without heartbeat -> not alive
    allow_automatic_l3agent_failover = true    # move routers off agents that died
    agent_check_interval = 1.0                 # seconds between looks for agents that died
    max_l3_agents_per_router = 2               # instances of an HA router (2 or 3)
    l3_ha_net_cidr = "169.254.192.0/18"        # each project's HA network (VRRP)
    ha_vrrp_advert_int = 0.1                   # keepalived's advert interval, seconds
    ha_conntrackd_enabled = true               # conntrackd syncs HA routers' connections
    [identity]                                 # see neutrino.identity

Every key can be overridden by the environment as NEUTRINO_<SECTION>_<KEY>, e.g.
NEUTRINO_SERVER_DATABASE or NEUTRINO_SERVER_PORT; values are parsed as TOML values
when they parse (numbers, booleans), else taken as strings.
"""

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Network
from pathlib import Path

AUTH_STRATEGIES = ("keystone", "noauth")


class ConfigError(ValueError):
    """A configuration value is missing or not allowed; the message names it."""


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9696
    public_url: str = ""
    database: str = "sqlite:///neutrino.db"
    auth_strategy: str = "keystone"
    noauth_project: str = "admin"
    router_distributed: bool = True
    agent_down_time: int = 75
    allow_automatic_l3agent_failover: bool = True
    agent_check_interval: float = 1.0
    sqlite_synchronous: str = "NORMAL"
    max_l3_agents_per_router: int = 2
    l3_ha_net_cidr: str = "169.254.192.0/18"
    ha_vrrp_advert_int: float = 0.1
    ha_conntrackd_enabled: bool = True

    def url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    identity: dict = field(default_factory=dict)
    path: Path | None = None


def _env_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _server_config(section: dict) -> ServerConfig:
    known = {f.name: f for f in fields(ServerConfig)}
    for key in section:
        if key not in known:
            raise ConfigError(
                f"[server] {key}: unknown setting; allowed: {', '.join(sorted(known))}"
            )
    cfg = ServerConfig(**section)
    for name, f in known.items():
        value = getattr(cfg, name)
        want = type(f.default)  # every setting's default is of its type
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            setattr(cfg, name, value)
        if want is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"[server] {name} = {value!r}: must be an integer")
        if not isinstance(value, want):
            raise ConfigError(f"[server] {name} = {value!r}: must be a {want.__name__}")
    if cfg.auth_strategy not in AUTH_STRATEGIES:
        raise ConfigError(
            f"[server] auth_strategy = {cfg.auth_strategy!r}: allowed: {', '.join(AUTH_STRATEGIES)}"
        )
    if cfg.agent_down_time < 1:
        raise ConfigError(f"[server] agent_down_time = {cfg.agent_down_time}: must be >= 1 (s)")
    if not 0 < cfg.agent_check_interval <= 60:
        raise ConfigError(
            f"[server] agent_check_interval = {cfg.agent_check_interval}: must be > 0 and <= 60 (s)"
        )
    if not 0 < cfg.port < 65536:
        raise ConfigError(f"[server] port = {cfg.port}: must be 1-65535")
    if cfg.sqlite_synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
        raise ConfigError(
            f"[server] sqlite_synchronous = {cfg.sqlite_synchronous!r}: allowed: NORMAL, FULL, EXTRA"
        )
    _check_ha(cfg)
    return cfg


HA_INSTANCES = (2, 3)


def _check_ha(cfg: ServerConfig) -> None:
    if cfg.max_l3_agents_per_router not in HA_INSTANCES:
        raise ConfigError(
            f"[server] max_l3_agents_per_router = {cfg.max_l3_agents_per_router}: "
            "allowed: 2 or 3 (instances of each HA router, on as many hosts)"
        )
    try:
        net = IPv4Network(cfg.l3_ha_net_cidr)
    except ValueError:
        raise ConfigError(
            f"[server] l3_ha_net_cidr = {cfg.l3_ha_net_cidr!r}: not an IPv4 network "
            "(address/prefix, no host bits)"
        ) from None
    if net.prefixlen > 29:
        raise ConfigError(
            f"[server] l3_ha_net_cidr = {cfg.l3_ha_net_cidr!r}: too small; /29 or larger"
        )
    interval = cfg.ha_vrrp_advert_int
    centis = round(interval * 100)
    if not 0 < interval <= 40.95 or abs(centis - interval * 100) > 1e-6:
        raise ConfigError(
            f"[server] ha_vrrp_advert_int = {interval}: must be more than 0 and at most "
            "40.95 seconds, in steps of 0.01 (VRRPv3 counts centiseconds)"
        )


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), apply NEUTRINO_* overrides, check every value."""
    env = os.environ if environ is None else environ
    data: dict = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path}: not found") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path}: not valid TOML: {e}") from None
    for key in data:
        if key not in ("server", "identity"):
            raise ConfigError(f"[{key}]: unknown section; allowed: server, identity")
    server = dict(data.get("server", {}))
    identity = dict(data.get("identity", {}))
    for name, text in env.items():
        for prefix, section in (("NEUTRINO_SERVER_", server), ("NEUTRINO_IDENTITY_", identity)):
            if name.startswith(prefix):
                section[name[len(prefix) :].lower()] = _env_value(text)
    return Config(server=_server_config(server), identity=identity, path=path)
