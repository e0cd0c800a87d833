"""What each resource's attributes accept: the request-body checks of the API.

An `Attr` says whether it may be given on create or update, who may set and see
it, how a value is checked and converted, and which column stores it (so list
filters on it run in SQL). `parse_body` applies them to a request body with
Neutron's messages; the value checks raise `InvalidInput` with the reason.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..network import errors
from ..network.errors import InvalidInput


@dataclass(frozen=True)
class Attr:
    name: str
    post: bool = False
    put: bool = False
    check: Callable | None = None
    admin_only: bool = False
    admin_view: bool = False
    column: str | None = None
    kind: str = "str"  # how a query-string value converts: str, bool, int
    filter: bool = True


def string(limit: int = 255) -> Callable:
    def check(value):
        if not isinstance(value, str):
            raise InvalidInput(f"'{value}' is not a valid string")
        if len(value) > limit:
            raise InvalidInput(f"'{value}' exceeds maximum length of {limit}")
        return value

    return check


def boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InvalidInput(f"'{value}' cannot be converted to boolean")


def uuid_str(value):
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else _bad_uuid(value)
    except ValueError:
        return _bad_uuid(value)


def _bad_uuid(value):
    raise InvalidInput(f"'{value}' is not a valid UUID")


def uuid_or_none(value):
    return None if value is None else uuid_str(value)


def integer(lo: int, hi: int) -> Callable:
    def check(value):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"'{value}' is not an integer")
        if not lo <= value <= hi:
            raise InvalidInput(f"'{value}' is not in the range {lo} through {hi}")
        return value

    return check


def one_of(*allowed) -> Callable:
    def check(value):
        if value not in allowed:
            raise InvalidInput(f"'{value}' is not in {list(allowed)}")
        return value

    return check


MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


def mac_address(value):
    if not isinstance(value, str) or not MAC.match(value):
        raise InvalidInput(f"'{value}' is not a valid MAC address")
    if int(value[:2], 16) & 1:
        raise InvalidInput(f"'{value}' is a multicast MAC address; a port needs a unicast one")
    if value.lower() == "00:00:00:00:00:00":
        raise InvalidInput(f"'{value}' is not a valid MAC address")
    return value.lower()


def project(value):
    return string(64)(value)


COMMON = (
    Attr("id", column="id", check=uuid_str),
    Attr("project_id", post=True, check=project, column="project_id"),
    Attr("tenant_id", post=True, check=project, column="project_id"),
    Attr("description", post=True, put=True, check=string(255), column="description"),
    Attr("revision_number", column="revision_number", kind="int"),
    Attr("created_at", filter=False),
    Attr("updated_at", filter=False),
    Attr("tags", filter=False),
)


def spec(*attrs: Attr) -> dict[str, Attr]:
    return {a.name: a for a in (*attrs, *COMMON)}


def parse_body(body, resource: str, attrs: dict[str, Attr], ctx, action: str) -> dict:
    """Check a create/update body; return the given values, converted.

    `action` is "create" or "update". Attributes only admins may set answer 403;
    unknown ones, read-only ones and bad values answer 400.
    """
    if not isinstance(body, dict) or not body:
        raise errors.bad_request("Resource body required")
    if resource not in body:
        raise errors.bad_request(f"Unable to find '{resource}' in request body")
    data = body[resource]
    if not isinstance(data, dict):
        raise errors.bad_request(f"Body '{resource}' must be an object, not {type(data).__name__}")
    unknown = sorted(k for k in data if k not in attrs)
    if unknown:
        raise errors.bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    out = {}
    for key, value in data.items():
        attr = attrs[key]
        allowed = attr.post if action == "create" else attr.put
        if not allowed:
            if action == "update":
                raise errors.bad_request(f"Cannot update read-only attribute {key}")
            raise errors.bad_request(f"Attribute '{key}' not allowed in POST")
        if attr.admin_only and not ctx.is_admin:
            raise errors.forbidden(f"{action}_{resource}:{key}")
        if attr.check is not None:
            try:
                value = attr.check(value)
            except InvalidInput as e:
                raise errors.invalid(key, str(e)) from None
        out[key] = value
    return _owner(out, ctx)


def _owner(values: dict, ctx) -> dict:
    """Fold tenant_id into project_id; only admins may name another project."""
    tenant = values.pop("tenant_id", None)
    proj = values.get("project_id")
    if tenant is not None and proj is not None and tenant != proj:
        raise errors.bad_request(f"'project_id' {proj} and 'tenant_id' {tenant} do not match")
    proj = proj if proj is not None else tenant
    if proj is not None and proj != ctx.project_id and not ctx.is_admin:
        raise errors.bad_request(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges"
        )
    if proj is not None:
        values["project_id"] = proj
    return values
