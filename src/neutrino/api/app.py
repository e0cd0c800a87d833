"""The ASGI application: Neutron v2.0 routes, the identity routes, auth and logs.

Each request gets an id (`X-OpenStack-Request-ID`) and one structured log line.
Handlers read the body, then run the resource code in a worker thread inside one
database transaction (`Database.read` / `Database.write`).
"""

import builtins
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType, SimpleNamespace

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..config import Config
from ..db import schema
from ..db.database import Database, utcnow
from ..db.projects import DbProjectStore
from ..identity import Context, Identity, IdentityConfig, IdentityError
from ..network import errors
from ..scheduler.ha import HaSettings
from ..scheduler.store import reschedule
from . import (
    agents,
    agentwatch,
    extensions,
    floatingips,
    hostviews,
    listing,
    networks,
    ports,
    routers,
    security_groups,
    subnets,
)

log = logging.getLogger("neutrino.api")


@dataclass(frozen=True)
class Resource:
    singular: str
    module: ModuleType | SimpleNamespace  # its functions: list_views, show, create, update, delete_
    attrs: dict
    create: Callable | None = None


class Api:
    """Everything a request needs: config, database, identity."""

    def __init__(self, config: Config, db: Database):
        self.config = config
        self.db = db
        self.url = config.server.url()
        self.noauth = config.server.auth_strategy == "noauth"
        identity = {
            **config.identity,
            "auth_strategy": config.server.auth_strategy,
            "noauth_project": config.server.noauth_project,
        }
        self.identity = Identity(
            IdentityConfig.from_dict(identity), self.url, project_store=DbProjectStore(db)
        )
        self.noauth_context = Context.noauth(self.identity.config.noauth_project_id)
        self.keep_down_hosts = not config.server.allow_automatic_l3agent_failover
        distributed = config.server.router_distributed
        self.ha = ha_settings(config)
        self.resources = {
            "networks": Resource("network", networks, networks.ATTRS),
            "subnets": Resource("subnet", subnets, subnets.ATTRS),
            "ports": Resource("port", ports, ports.ATTRS),
            "routers": Resource(
                "router",
                routers,
                routers.ATTRS,
                partial(routers.create, distributed_default=distributed),
            ),
            "floatingips": Resource("floatingip", floatingips, floatingips.ATTRS),
            "security_groups": Resource("security_group", security_groups, security_groups.ATTRS),
            "security_group_rules": Resource(
                "security_group_rule", security_groups.RULES, security_groups.RULE_ATTRS
            ),
        }

    # --- auth ----------------------------------------------------------------

    def context(self, request: Request) -> Context:
        if self.noauth:
            return self.noauth_context
        token = request.headers.get("x-auth-token")
        if not token:
            raise errors.not_authenticated()
        try:
            return self.identity.context_for_token(token)
        except IdentityError:
            raise errors.ApiError(
                401, "HTTPUnauthorized", "The request you have made requires authentication."
            ) from None

    # --- generic handlers ----------------------------------------------------

    def list(self, request: Request, collection: str, ctx: Context) -> dict:
        res = self.resources[collection]
        if collection == "security_groups" and ctx.can_write:
            self._default_group(ctx.project_id)
        q = listing.parse_query(list(request.query_params.multi_items()), res.attrs, ctx)
        columns = q.column_filters(res.attrs)

        def run(conn):
            if collection == "ports":
                return ports.list_views(conn, ctx, columns, q.filters.get("fixed_ips"))
            return res.module.list_views(conn, ctx, columns)

        views = self.db.read(run)
        if not ctx.is_admin:
            views = [self._hide(v, res.attrs) for v in views]
        return listing.apply(views, q, collection, self.url)

    def _default_group(self, project_id: str) -> None:
        """Neutron makes a project's default security group when the project first looks."""
        group = schema.security_groups
        found = self.db.read(
            lambda conn: conn.execute(
                select(group.c.id).where(
                    group.c.project_id == project_id, group.c.name == "default"
                )
            ).first()
        )
        if found is None:
            self.db.write(lambda tx: security_groups.default_group(tx, project_id))

    @staticmethod
    def _hide(view: dict, attrs: dict) -> dict:
        return {k: v for k, v in view.items() if not (k in attrs and attrs[k].admin_view)}

    def show(self, request: Request, collection: str, resource_id: str, ctx: Context) -> dict:
        res = self.resources[collection]
        view = self.db.read(lambda conn: res.module.show(conn, ctx, resource_id))
        if not ctx.is_admin:
            view = self._hide(view, res.attrs)
        fields = request.query_params.getlist("fields")
        if fields:
            view = {k: view[k] for k in fields if k in view}
        return {res.singular: view}

    def create(self, body, collection: str, ctx: Context) -> dict:
        res = self.resources[collection]
        create = res.create or res.module.create
        if isinstance(body, dict) and collection in body and res.singular not in body:
            items = body[collection]
            if not isinstance(items, list) or not items:
                raise errors.bad_request(f"Bulk body '{collection}' must be a non-empty list")
            views = self.db.write(
                lambda tx: self._placed(
                    tx, collection, [create(tx, ctx, {res.singular: item}) for item in items]
                )
            )
            return {collection: [self._visible(v, res, ctx) for v in views]}
        view = self.db.write(lambda tx: self._placed(tx, collection, [create(tx, ctx, body)])[0])
        return {res.singular: self._visible(view, res, ctx)}

    def _placed(self, tx, collection: str, views: builtins.list) -> builtins.list:
        """Place routers again when a write can change where they run (see scheduler)."""
        if collection in ("routers", "floatingips") or (
            collection == "ports" and any(v is None or v.get("binding:host_id") for v in views)
        ):
            reschedule(
                tx, tx.now, self.config.server.agent_down_time, self.ha, self.keep_down_hosts
            )
        return views

    def _visible(self, view: dict, res: Resource, ctx: Context) -> dict:
        return view if ctx.is_admin else self._hide(view, res.attrs)

    def update(self, body, collection: str, resource_id: str, ctx: Context) -> dict:
        res = self.resources[collection]
        view = self.db.write(
            lambda tx: self._placed(
                tx, collection, [res.module.update(tx, ctx, resource_id, body)]
            )[0]
        )
        return {res.singular: self._visible(view, res, ctx)}

    def delete(self, collection: str, resource_id: str, ctx: Context) -> None:
        res = self.resources[collection]
        self.db.write(
            lambda tx: self._placed(tx, collection, [res.module.delete_(tx, ctx, resource_id)])
        )


def ha_settings(config: Config) -> HaSettings:
    """The HA router settings of the server's configuration."""
    s = config.server
    return HaSettings(
        s.max_l3_agents_per_router, s.l3_ha_net_cidr, s.ha_vrrp_advert_int, s.ha_conntrackd_enabled
    )


def _then_place(tx, result, down_time: int, ha: HaSettings, keep_down_hosts: bool):
    """After an agent changed (disabled, removed): place its routers elsewhere."""
    reschedule(tx, tx.now, down_time, ha, keep_down_hosts)
    return result


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"{name}={value!r}: must be an integer") from None


def _strip_json(value: str) -> str:
    return value[:-5] if value.endswith(".json") else value


async def _body(request: Request):
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.bad_request("Malformed request body: not JSON") from None


def build_app(config: Config, db: Database) -> Starlette:
    api = Api(config, db)
    down = config.server.agent_down_time
    keep = api.keep_down_hosts
    watch = agentwatch.AgentWatch(
        db,
        down,
        config.server.agent_check_interval,
        config.server.allow_automatic_l3agent_failover,
        api.ha.hosts,
    )

    async def versions(request: Request):
        return JSONResponse(
            {
                "versions": [
                    {
                        "id": "v2.0",
                        "status": "CURRENT",
                        "links": [{"rel": "self", "href": f"{api.url}/v2.0/"}],
                    }
                ]
            }
        )

    async def v2_root(request: Request):
        api.context(request)
        names = list(api.resources) + ["agents", "extensions"]
        return JSONResponse(
            {
                "resources": [
                    {
                        "name": n[:-1].replace("_", "-"),
                        "collection": n.replace("_", "-"),
                        "links": [{"rel": "self", "href": f"{api.url}/v2.0/{n.replace('_', '-')}"}],
                    }
                    for n in names
                ]
            }
        )

    async def healthz(request: Request):
        ok = await run_in_threadpool(db.healthy)
        return JSONResponse(
            {"status": "ok" if ok else "database unreachable"}, status_code=200 if ok else 503
        )

    async def list_extensions(request: Request):
        api.context(request)
        return JSONResponse({"extensions": extensions.all_extensions()})

    async def show_extension(request: Request):
        api.context(request)
        alias = _strip_json(request.path_params["alias"])
        if alias not in extensions.EXTENSIONS:
            raise errors.ApiError(
                404, "HTTPNotFound", f"Extension with alias {alias} does not exist"
            )
        return JSONResponse({"extension": extensions.extension(alias)})

    async def collection(request: Request):
        name = _strip_json(request.path_params["collection"]).replace("-", "_")
        if name not in api.resources:
            return _unknown(request)
        ctx = api.context(request)
        if request.method == "GET":
            return JSONResponse(await run_in_threadpool(api.list, request, name, ctx))
        body = await _body(request)
        return JSONResponse(await run_in_threadpool(api.create, body, name, ctx), status_code=201)

    async def member(request: Request):
        name = request.path_params["collection"].replace("-", "_")
        if name not in api.resources:
            return _unknown(request)
        rid = _strip_json(request.path_params["id"])
        ctx = api.context(request)
        if request.method == "GET":
            return JSONResponse(await run_in_threadpool(api.show, request, name, rid, ctx))
        if request.method == "PUT":
            body = await _body(request)
            return JSONResponse(await run_in_threadpool(api.update, body, name, rid, ctx))
        await run_in_threadpool(api.delete, name, rid, ctx)
        return Response(status_code=204)

    async def router_action(request: Request):
        ctx = api.context(request)
        rid = request.path_params["id"]
        action = _strip_json(request.path_params["action"])
        fn = {
            "add_router_interface": routers.add_interface,
            "remove_router_interface": routers.remove_interface,
        }.get(action)
        if fn is None:
            return _unknown(request)
        body = await _body(request)
        return JSONResponse(
            await run_in_threadpool(
                db.write, lambda tx: api._placed(tx, "routers", [fn(tx, ctx, rid, body)])[0]
            )
        )

    async def router_l3_agents(request: Request):
        ctx = api.context(request)
        rid = request.path_params["id"]
        return JSONResponse(
            await run_in_threadpool(
                db.read, lambda conn: agents.agents_of_router(conn, ctx, rid, utcnow(), down)
            )
        )

    async def agent_list(request: Request):
        ctx = api.context(request)
        q = listing.parse_query(list(request.query_params.multi_items()), agents.ATTRS, ctx)
        views = await run_in_threadpool(
            db.read,
            lambda conn: agents.list_views(
                conn, ctx, q.column_filters(agents.ATTRS), utcnow(), down
            ),
        )
        return JSONResponse(listing.apply(views, q, "agents", api.url))

    async def agent_member(request: Request):
        ctx = api.context(request)
        aid = _strip_json(request.path_params["id"])
        if request.method == "GET":
            view = await run_in_threadpool(
                db.read, lambda conn: agents.view(agents.fetch(conn, ctx, aid), utcnow(), down)
            )
            return JSONResponse({"agent": view})
        if request.method == "PUT":
            body = await _body(request)
            view = await run_in_threadpool(
                db.write,
                lambda tx: _then_place(
                    tx, agents.update_(tx, ctx, aid, body, down), down, api.ha, keep
                ),
            )
            return JSONResponse({"agent": view})

        def delete_then_place(tx) -> None:
            agents.delete_(tx, ctx, aid)
            _then_place(tx, None, down, api.ha, keep)

        await run_in_threadpool(db.write, delete_then_place)
        return Response(status_code=204)

    async def agent_heartbeat(request: Request):
        ctx = api.context(request)
        body = await _body(request)

        def beat(tx):
            view = agents.heartbeat(tx, ctx, body, down)
            if any(c[0] == "agent" and c[2] == "create" for c in tx.changes):
                reschedule(tx, tx.now, down, api.ha, keep)  # a new host: routers may go there
            return view

        view = await run_in_threadpool(db.write, beat)
        return JSONResponse({"agent": view})

    async def host_view(request: Request):
        ctx = api.context(request)
        if not ctx.is_admin:
            raise errors.forbidden("get_host_view")
        host = request.path_params["host"]
        after, wait = _int_param(request, "after", -1), min(_int_param(request, "wait", 0), 60)
        body = await hostviews.watch(db, host, after, wait, down, api.ha, keep)
        return JSONResponse(body)

    async def port_status(request: Request):
        ctx = api.context(request)
        body = await _body(request)
        pid = request.path_params["id"]
        view = await run_in_threadpool(
            db.write, lambda tx: hostviews.set_port_status(tx, ctx, pid, body)
        )
        return JSONResponse({"port": view})

    async def ha_states(request: Request):
        ctx = api.context(request)
        body = await _body(request)
        host = request.path_params["host"]
        return JSONResponse(
            await run_in_threadpool(db.write, lambda tx: agents.set_ha_states(tx, ctx, host, body))
        )

    async def agent_routers(request: Request):
        ctx = api.context(request)
        aid = request.path_params["id"]
        if request.method == "GET":
            return JSONResponse(
                await run_in_threadpool(
                    db.read, lambda conn: agents.routers_of_agent(conn, ctx, aid)
                )
            )
        body = await _body(request)
        await run_in_threadpool(db.write, lambda tx: agents.bind_router(tx, ctx, aid, body))
        return Response(status_code=201)

    async def agent_router_delete(request: Request):
        ctx = api.context(request)
        aid, rid = request.path_params["id"], _strip_json(request.path_params["router_id"])
        await run_in_threadpool(db.write, lambda tx: agents.unbind_router(tx, ctx, aid, rid))
        return Response(status_code=204)

    routes = [
        Route("/", versions),
        Route("/healthz", healthz),
        Route("/v2.0", v2_root),
        Route("/v2.0/", v2_root),
        Route("/v2.0/extensions", list_extensions),
        Route("/v2.0/extensions.json", list_extensions),
        Route("/v2.0/extensions/{alias}", show_extension),
        Route("/v2.0/agents", agent_list),
        Route("/v2.0/agents.json", agent_list),
        Route("/v2.0/agents/heartbeat", agent_heartbeat, methods=["POST"]),
        Route("/v2.0/agents/{id}", agent_member, methods=["GET", "PUT", "DELETE"]),
        Route("/v2.0/agents/{id}/l3-routers", agent_routers, methods=["GET", "POST"]),
        Route("/v2.0/agents/{id}/l3-routers/{router_id}", agent_router_delete, methods=["DELETE"]),
        Route("/v2.0/routers/{id}/l3-agents", router_l3_agents),
        Route("/v2.0/routers/{id}/{action}", router_action, methods=["PUT"]),
        Route("/neutrino/v1/hosts/{host}/view", host_view),
        Route("/neutrino/v1/ports/{id}/status", port_status, methods=["PUT"]),
        Route("/neutrino/v1/hosts/{host}/ha_states", ha_states, methods=["PUT"]),
        Route("/v2.0/{collection}", collection, methods=["GET", "POST"]),
        Route("/v2.0/{collection}/{id}", member, methods=["GET", "PUT", "DELETE"]),
        *api.identity.routes(),
    ]
    app = Starlette(routes=routes, lifespan=watch.lifespan)  # the agent watch runs beside
    app.add_middleware(RequestLog)
    app.state.api = api
    app.state.agent_watch = watch
    return app


def _unknown(request: Request):
    raise errors.ApiError(
        404, "HTTPNotFound", f"The resource could not be found: {request.url.path}"
    )


class RequestLog:
    """Request ids, one JSON log line per request, and errors in Neutron's form."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = f"req-{uuid.uuid4()}"
        started = time.perf_counter()
        status = {"code": 500}
        sent = {"start": False}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                sent["start"] = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-openstack-request-id", request_id.encode())
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except errors.ApiError as e:
            await _send_error(send_with_id, e)
        except Exception:
            log.exception("request %s failed", request_id)
            if not sent["start"]:
                await _send_error(
                    send_with_id,
                    errors.ApiError(
                        500,
                        "HTTPInternalServerError",
                        f"Request Failed: internal server error while processing your request ({request_id}).",
                    ),
                )
        finally:
            log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "query": scope.get("query_string", b"").decode(errors="replace"),
                        "status": status["code"],
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                )
            )


async def _send_error(send, error: errors.ApiError) -> None:
    body = json.dumps(error.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
