"""Security groups and their rules, as Neutron's API has them.

Every project has a `default` group, made the first time the project needs one
(listing groups, a port, a group of its own): egress to anywhere (IPv4 and IPv6)
and ingress from members of the same group. A new group allows all egress. A VM
port gets its project's default group unless it names its groups; ports of the
network (router, floating IP, ...) get none. The default group is not deleted by
its members; a group ports use is not deleted at all (409).

The data plane does not enforce the rules yet: they are stored and served, as
with Neutron's `noop` firewall driver (see docs/api-server.md).
"""

from collections.abc import Set as AbstractSet
from ipaddress import ip_network
from types import SimpleNamespace

from sqlalchemy import delete, insert, select

from ..db import schema
from ..network import errors
from ..network.errors import InvalidInput
from .attrs import Attr, integer, parse_body, spec, string, uuid_or_none, uuid_str
from .common import (
    get_row,
    new_standard,
    owned_row,
    owned_rows,
    require_writer,
    save,
    standard,
)

T = schema.security_groups
R = schema.security_group_rules
PS = schema.port_security_groups
PROTOCOLS = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "icmpv6": 58,
    "sctp": 132,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ipv6-icmp": 58,
    "vrrp": 112,
    "igmp": 2,
}

ATTRS = spec(
    Attr("name", post=True, put=True, check=string(255), column="name"),
    Attr("security_group_rules", filter=False),
    Attr("stateful", filter=False),
)


def _direction(value):
    if value not in ("ingress", "egress"):
        raise InvalidInput(f"'{value}' is not in ['ingress', 'egress']")
    return value


def _ethertype(value):
    if value not in ("IPv4", "IPv6"):
        raise InvalidInput(f"'{value}' is not in ['IPv4', 'IPv6']")
    return value


def _protocol(value):
    if value is None:
        return None
    text = str(value).lower()
    if text in PROTOCOLS or (text.isdigit() and 0 <= int(text) <= 255):
        return text
    raise InvalidInput(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"[{', '.join(sorted(PROTOCOLS))}] and integer representations [0 to 255] are supported."
    )


def _prefix(value):
    if value is None:
        return None
    try:
        return str(ip_network(value, strict=False))
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid IP subnet") from None


def _port(value):
    return None if value is None else integer(0, 65535)(value)


RULE_ATTRS = spec(
    Attr("security_group_id", post=True, check=uuid_str, column="security_group_id"),
    Attr("direction", post=True, check=_direction, column="direction"),
    Attr("ethertype", post=True, check=_ethertype, column="ethertype"),
    Attr("protocol", post=True, check=_protocol, column="protocol"),
    Attr("port_range_min", post=True, check=_port, column="port_range_min", kind="int"),
    Attr("port_range_max", post=True, check=_port, column="port_range_max", kind="int"),
    Attr("remote_ip_prefix", post=True, check=_prefix, column="remote_ip_prefix"),
    Attr("remote_group_id", post=True, check=uuid_or_none, column="remote_group_id"),
    Attr("remote_address_group_id", filter=False),
    Attr("normalized_cidr", filter=False),
    Attr("belongs_to_default_sg", filter=False),
)


def rule_view(row, default_ids: AbstractSet[str] = frozenset()) -> dict:
    return {
        "id": row.id,
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "normalized_cidr": row.remote_ip_prefix,
        "remote_group_id": row.remote_group_id,
        "remote_address_group_id": None,
        "belongs_to_default_sg": row.security_group_id in default_ids,
        **standard(row),
    }


def view(row, rules: list[dict]) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "stateful": True,
        "security_group_rules": rules,
        **standard(row),
    }


def _views(conn, rows) -> list[dict]:
    ids = [r.id for r in rows]
    rules: dict[str, list[dict]] = {i: [] for i in ids}
    defaults = {r.id for r in rows if r.name == "default"}
    if ids:
        for rule in conn.execute(select(R).where(R.c.security_group_id.in_(ids))):
            rules[rule.security_group_id].append(rule_view(rule, defaults))
    return [view(r, rules[r.id]) for r in rows]


# --- the default group ---------------------------------------------------------------


def default_group(tx, project_id: str) -> str:
    """The project's default group, made (with its four rules) if it has none yet."""
    found = tx.conn.execute(
        select(T.c.id).where(T.c.project_id == project_id, T.c.name == "default")
    ).scalar()
    if found is not None:
        return found
    tx.lock(f"default-sg-{project_id}")
    found = tx.conn.execute(
        select(T.c.id).where(T.c.project_id == project_id, T.c.name == "default")
    ).scalar()
    if found is not None:
        return found
    row = {
        **new_standard(
            tx, {"project_id": project_id, "description": "Default security group"}, None
        ),
        "name": "default",
    }
    tx.execute(insert(T).values(**row))
    for direction, ethertype, remote in (
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", row["id"]),
        ("ingress", "IPv6", row["id"]),
    ):
        _insert_rule(tx, row["id"], project_id, direction, ethertype, remote_group_id=remote)
    tx.changed("security_group", row["id"], "create", project_id, 1)
    return row["id"]


def _insert_rule(tx, group_id: str, project_id: str, direction: str, ethertype: str, **kw) -> str:
    rule = new_standard(
        tx, {"project_id": project_id, "description": kw.pop("description", "")}, None
    )
    tx.execute(
        insert(R).values(
            **rule, security_group_id=group_id, direction=direction, ethertype=ethertype, **kw
        )
    )
    return rule["id"]


# --- groups --------------------------------------------------------------------------


def fetch(conn, ctx, group_id: str):
    return owned_row(conn, ctx, T, group_id, "SecurityGroup")


def show(conn, ctx, group_id: str) -> dict:
    return _views(conn, [fetch(conn, ctx, group_id)])[0]


def list_views(conn, ctx, columns: dict[str, list]) -> list[dict]:
    return _views(conn, owned_rows(conn, ctx, T, columns))


def create(tx, ctx, body) -> dict:
    require_writer(ctx, "create_security_group")
    values = parse_body(body, "security_group", ATTRS, ctx, "create")
    project_id = values.get("project_id", ctx.project_id)
    default_group(tx, project_id)
    if values.get("name") == "default":
        raise errors.conflict(
            "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
        )
    row = {**new_standard(tx, values, ctx), "name": values.get("name", "")}
    tx.execute(insert(T).values(**row))
    for ethertype in ("IPv4", "IPv6"):
        _insert_rule(tx, row["id"], row["project_id"], "egress", ethertype)
    tx.changed("security_group", row["id"], "create", row["project_id"], 1)
    return show(tx.conn, ctx, row["id"])


def update(tx, ctx, group_id: str, body) -> dict:
    values = parse_body(body, "security_group", ATTRS, ctx, "update")
    row = fetch(tx.conn, ctx, group_id)
    require_writer(ctx, "update_security_group")
    if row.name == "default" and values.get("name", "default") != "default":
        raise errors.conflict(
            "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed."
        )
    save(
        tx, T, row, {k: values[k] for k in ("name", "description") if k in values}, "security_group"
    )
    return show(tx.conn, ctx, group_id)


def delete_(tx, ctx, group_id: str) -> None:
    row = fetch(tx.conn, ctx, group_id)
    require_writer(ctx, "delete_security_group")
    if row.name == "default" and not ctx.is_admin:
        raise errors.conflict(
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        )
    if tx.conn.execute(select(PS.c.port_id).where(PS.c.security_group_id == group_id)).first():
        raise errors.conflict("SecurityGroupInUse", f"Security Group {group_id} in use.")
    tx.execute(delete(R).where(R.c.security_group_id == group_id))
    tx.execute(delete(T).where(T.c.id == group_id))
    tx.changed("security_group", group_id, "delete", row.project_id, row.revision_number)


# --- rules ---------------------------------------------------------------------------


def _rule_fetch(conn, ctx, rule_id: str):
    return owned_row(conn, ctx, R, rule_id, "SecurityGroupRule")


def rule_show(conn, ctx, rule_id: str) -> dict:
    row = _rule_fetch(conn, ctx, rule_id)
    group = conn.execute(select(T.c.name).where(T.c.id == row.security_group_id)).scalar()
    return rule_view(row, {row.security_group_id} if group == "default" else set())


def rule_list_views(conn, ctx, columns: dict[str, list]) -> list[dict]:
    defaults = set(conn.execute(select(T.c.id).where(T.c.name == "default")).scalars())
    return [rule_view(r, defaults) for r in owned_rows(conn, ctx, R, columns)]


def rule_create(tx, ctx, body) -> dict:
    require_writer(ctx, "create_security_group_rule")
    v = parse_body(body, "security_group_rule", RULE_ATTRS, ctx, "create")
    for key in ("security_group_id", "direction"):
        if key not in v:
            raise errors.bad_request(
                f"Failed to parse request. Required attribute '{key}' not specified"
            )
    group = fetch(tx.conn, ctx, v["security_group_id"])
    ethertype = v.get("ethertype", "IPv4")
    proto = v.get("protocol")
    lo, hi = v.get("port_range_min"), v.get("port_range_max")
    if v.get("remote_ip_prefix") and v.get("remote_group_id"):
        raise errors.bad_request(
            "Only remote_ip_prefix or remote_group_id may be provided.",
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    prefix = v.get("remote_ip_prefix")
    if prefix and (ip_network(prefix).version == 4) != (ethertype == "IPv4"):
        raise errors.bad_request(
            f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
            "SecurityGroupRuleParameterConflict",
        )
    if (lo is not None or hi is not None) and proto in (None, "0"):
        raise errors.bad_request(
            "Must also specify protocol if port range is given.",
            "SecurityGroupProtocolRequiredWithPorts",
        )
    if (
        proto in ("tcp", "udp", "sctp", "6", "17", "132")
        and lo is not None
        and hi is not None
        and lo > hi
    ):
        raise errors.bad_request(
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            "SecurityGroupInvalidPortRange",
        )
    if proto in ("icmp", "1") and ((lo is not None and lo > 255) or (hi is not None and hi > 255)):
        raise errors.bad_request(
            f"Invalid value for ICMP type or code: {lo}, {hi}", "SecurityGroupInvalidIcmpValue"
        )
    if v.get("remote_group_id"):
        fetch(tx.conn, ctx, v["remote_group_id"])
    fields = {
        "protocol": proto,
        "port_range_min": lo,
        "port_range_max": hi,
        "remote_ip_prefix": prefix,
        "remote_group_id": v.get("remote_group_id"),
    }
    same = select(R.c.id).where(
        R.c.security_group_id == group.id,
        R.c.direction == v["direction"],
        R.c.ethertype == ethertype,
    )
    for key, value in fields.items():
        same = same.where(R.c[key].is_(None) if value is None else R.c[key] == value)
    existing = tx.conn.execute(same).scalar()
    if existing is not None:
        raise errors.conflict(
            "SecurityGroupRuleExists", f"Security group rule already exists. Rule id is {existing}."
        )
    rule_id = _insert_rule(
        tx,
        group.id,
        group.project_id,
        v["direction"],
        ethertype,
        description=v.get("description", ""),
        **fields,
    )
    save(tx, T, group, {}, "security_group")
    return rule_show(tx.conn, ctx, rule_id)


def rule_delete(tx, ctx, rule_id: str) -> None:
    row = _rule_fetch(tx.conn, ctx, rule_id)
    require_writer(ctx, "delete_security_group_rule")
    tx.execute(delete(R).where(R.c.id == rule_id))
    group = get_row(tx.conn, T, row.security_group_id, "SecurityGroup")
    save(tx, T, group, {}, "security_group")


# --- ports ---------------------------------------------------------------------------


def check_port_groups(tx, ctx, project_id: str, group_ids: list[str]) -> list[str]:
    for gid in group_ids:
        row = tx.conn.execute(select(T).where(T.c.id == gid)).first()
        if row is None or not (ctx.is_admin or row.project_id == project_id):
            raise errors.not_found("SecurityGroup", gid)
    return group_ids


def set_port_groups(tx, port_id: str, group_ids: list[str]) -> None:
    tx.execute(delete(PS).where(PS.c.port_id == port_id))
    if group_ids:
        tx.execute(insert(PS), [{"port_id": port_id, "security_group_id": g} for g in group_ids])


def groups_of(conn, port_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {p: [] for p in port_ids}
    for chunk in range(0, len(port_ids), 500):
        part = port_ids[chunk : chunk + 500]
        for port_id, gid in conn.execute(
            select(PS.c.port_id, PS.c.security_group_id).where(PS.c.port_id.in_(part))
        ):
            out[port_id].append(gid)
    for groups in out.values():
        groups.sort()
    return out


def _groups(value):
    if not isinstance(value, list):
        raise InvalidInput(f"'{value}' is not a list")
    return sorted({uuid_str(v) for v in value})


def _no_update(tx, ctx, rule_id, body):
    raise errors.bad_request("Security group rules cannot be changed; delete and create instead")


# the rules as a resource module for the API's routes (list, show, create, delete)
RULES = SimpleNamespace(
    list_views=rule_list_views,
    show=rule_show,
    create=rule_create,
    update=_no_update,
    delete_=rule_delete,
)

port_attr = Attr("security_groups", post=True, put=True, check=_groups, filter=False)
