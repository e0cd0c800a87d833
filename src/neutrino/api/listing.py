"""List requests as Neutron takes them: filters, fields, sorting and pagination.

    GET /v2.0/ports?network_id=A&network_id=B&device_owner=compute:nova
        &fixed_ips=ip_address%3D10.0.0.5&fields=id&fields=mac_address
        &sort_key=name&sort_dir=desc&limit=50&marker=<id>

Repeated values of one filter are alternatives; different filters must all hold.
Filters on stored columns are also handed to SQL (`ListQuery.column_filters`).
Unknown filters answer 400 (Neutron's filter validation).
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..network import errors
from ..network.errors import InvalidInput
from .attrs import Attr, boolean

RESERVED = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}


@dataclass
class ListQuery:
    filters: dict[str, list] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    params: list[tuple[str, str]] = field(default_factory=list)

    def column_filters(self, attrs: dict[str, Attr]) -> dict[str, list]:
        return {
            column: v for k, v in self.filters.items() if k in attrs and (column := attrs[k].column)
        }


def _convert(attr: Attr, value: str):
    if attr.kind == "bool":
        return boolean(value)
    if attr.kind == "int":
        try:
            return int(value)
        except ValueError:
            raise InvalidInput(f"'{value}' is not an integer") from None
    return value


def parse_query(params: list[tuple[str, str]], attrs: dict[str, Attr], ctx) -> ListQuery:
    q = ListQuery(params=[(k, v) for k, v in params if k not in ("marker", "page_reverse")])
    sort_dirs = []
    for key, value in params:
        if key == "fields":
            q.fields.append(value)
        elif key == "sort_key":
            if value not in attrs:
                raise errors.bad_request(f"{value} is an invalid attribute for sort_keys")
            q.sorts.append((value, True))
        elif key == "sort_dir":
            if value not in ("asc", "desc"):
                raise errors.bad_request(
                    f"{value} is an invalid value for sort_dirs, valid values are 'asc' and 'desc'"
                )
            sort_dirs.append(value == "asc")
        elif key == "limit":
            if not value.isdigit():
                raise errors.bad_request(f"Limit must be an integer 0 or greater, not '{value}'")
            q.limit = int(value)
            if q.limit < 0:
                raise errors.bad_request(f"Limit must be an integer 0 or greater, not '{value}'")
            q.limit = q.limit or None
        elif key == "marker":
            q.marker = value
        elif key == "page_reverse":
            q.page_reverse = boolean(value) if value else False
        else:
            attr = attrs.get(key)
            if key == "fixed_ips" and attr is not None:
                q.filters.setdefault(key, []).append(value)
                continue
            if attr is None or not attr.filter or (attr.admin_view and not ctx.is_admin):
                raise errors.bad_request(f"[{key}] is invalid attribute for filtering")
            try:
                converted = _convert(attr, value)
            except InvalidInput as e:
                raise errors.invalid(key, str(e)) from None
            name = "project_id" if key == "tenant_id" else key
            q.filters.setdefault(name, []).append(converted)
    if sort_dirs and len(sort_dirs) != len(q.sorts):
        raise errors.bad_request("The number of sort_keys and sort_dirs must be same")
    if sort_dirs:
        q.sorts = [(k, asc) for (k, _), asc in zip(q.sorts, sort_dirs)]
    return q


def _matches(view: dict, filters: dict[str, list]) -> bool:
    for key, wanted in filters.items():
        if key == "fixed_ips":
            if not fixed_ips_match(view.get("fixed_ips", []), wanted):
                return False
            continue
        value = view.get(key)
        if isinstance(value, list):
            if not any(v in value for v in wanted):
                return False
        elif value not in wanted and not (value is None and "" in wanted):
            return False
    return True


def fixed_ips_match(fixed_ips: list[dict], wanted: list[str]) -> bool:
    by_key: dict[str, set] = {}
    for item in wanted:
        key, _, value = item.partition("=")
        by_key.setdefault(key, set()).add(value)
    for ip in fixed_ips:
        if "ip_address" in by_key and ip["ip_address"] not in by_key["ip_address"]:
            continue
        if "subnet_id" in by_key and ip["subnet_id"] not in by_key["subnet_id"]:
            continue
        substr = by_key.get("ip_address_substr")
        if substr and not any(s in ip["ip_address"] for s in substr):
            continue
        return True
    return False


def _sort_key(view: dict, sorts: list[tuple[str, bool]]):
    return [_Order(view.get(k), asc) for k, asc in sorts] + [_Order(view["id"], True)]


class _Order:
    """Sorts None first and values of mixed types without failing, either way round."""

    __slots__ = ("key", "asc")

    def __init__(self, value, asc: bool):
        self.key = (value is not None, str(type(value)), value if value is not None else 0)
        if isinstance(value, (list, dict)):
            self.key = (True, "x", str(value))
        self.asc = asc

    def __lt__(self, other):
        return self.key < other.key if self.asc else self.key > other.key

    def __eq__(self, other):
        return self.key == other.key


def apply(views: list[dict], q: ListQuery, collection: str, base_url: str) -> dict:
    """Filter, sort, page and cut the views; the response body with links."""
    views = [v for v in views if _matches(v, q.filters)]
    if q.sorts or q.limit or q.marker:
        views.sort(key=lambda v: _sort_key(v, q.sorts))
    links = []
    if q.limit or q.marker:
        views, links = _page(views, q, collection, base_url)
    if q.fields:
        views = [{k: v[k] for k in q.fields if k in v} for v in views]
    body = {collection: views}
    if links:
        body[f"{collection}_links"] = links
    return body


def _page(views, q: ListQuery, collection: str, base_url: str):
    ids = [v["id"] for v in views]
    if q.marker is not None:
        if q.marker not in ids:
            raise errors.not_found("Marker", q.marker)
        i = ids.index(q.marker)
        if q.page_reverse:
            views = views[:i]
        else:
            views = views[i + 1 :]
    more = False
    if q.limit is not None and len(views) > q.limit:
        more = True
        views = views[-q.limit :] if q.page_reverse else views[: q.limit]
    links = []

    def link(marker, rel, reverse):
        params = list(q.params) + [("marker", marker)]
        if reverse:
            params.append(("page_reverse", "True"))
        path = collection.replace("_", "-")  # security_groups live at /v2.0/security-groups
        return {"href": f"{base_url}/v2.0/{path}?{urlencode(params)}", "rel": rel}

    if views:
        forward_more = more if not q.page_reverse else q.marker is not None
        backward_more = q.marker is not None if not q.page_reverse else more
        if forward_more:
            links.append(link(views[-1]["id"], "next", False))
        if backward_more:
            links.append(link(views[0]["id"], "previous", True))
    return views, links
