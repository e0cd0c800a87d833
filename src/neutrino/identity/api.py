"""The Keystone v3 HTTP API, as Starlette routes over an `Identity`.

Routes: ``GET /v3`` and ``/v3/`` (version document), ``POST|GET|HEAD|DELETE
/v3/auth/tokens``, ``GET /v3/auth/catalog``, ``/v3/auth/projects``, ``/v3/auth/domains``,
``/v3/auth/system``, ``GET /v3/domains[/{id}]``, ``GET|POST /v3/projects`` and
``GET|DELETE /v3/projects/{id}``; any other ``/v3/...`` request answers 501 in Keystone's
error format. The routes check tokens themselves: the server must not require one to reach
them. Project calls may reach the database, so they run in worker threads.
"""

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from neutrino.identity.errors import BadRequest, IdentityError, NotImplementedByNeutrino

VERSION_ID = "v3.14"
VERSION_UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def build_routes(identity) -> list[Route]:
    """The routes, bound to one identity."""

    def handler(method):
        async def endpoint(request: Request) -> Response:
            try:
                return await method(identity, request)
            except IdentityError as e:
                return error_response(identity, request, e)

        return endpoint

    all_methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return [
        Route("/v3", handler(version), methods=["GET"]),
        Route("/v3/", handler(version), methods=["GET"]),
        Route("/v3/auth/tokens", handler(tokens), methods=["GET", "HEAD", "POST", "DELETE"]),
        Route("/v3/auth/catalog", handler(auth_catalog), methods=["GET"]),
        Route("/v3/auth/projects", handler(auth_projects), methods=["GET"]),
        Route("/v3/auth/domains", handler(auth_domains), methods=["GET"]),
        Route("/v3/auth/system", handler(auth_system), methods=["GET"]),
        Route("/v3/domains", handler(domains), methods=["GET"]),
        Route("/v3/domains/{domain_id}", handler(domain), methods=["GET"]),
        Route("/v3/projects", handler(projects), methods=["GET", "POST"]),
        Route("/v3/projects/{project_id}", handler(project), methods=["GET", "DELETE"]),
        Route("/v3/{path:path}", handler(not_offered), methods=all_methods),
    ]


def error_response(identity, request: Request, error: IdentityError) -> Response:
    """Keystone's error body (none for HEAD); 401s name the identity endpoint."""
    headers = {}
    if error.code == 401:
        headers["WWW-Authenticate"] = f'Keystone uri="{identity.public_url}/v3"'
    if request.method == "HEAD":
        return Response(status_code=error.code, headers=headers)
    return JSONResponse(error.body(), status_code=error.code, headers=headers)


async def version(identity, request: Request) -> Response:
    """The v3 version document, which keystoneauth's discovery reads."""
    return JSONResponse(
        {
            "version": {
                "id": VERSION_ID,
                "status": "stable",
                "updated": VERSION_UPDATED,
                "links": [{"rel": "self", "href": f"{identity.public_url}/v3/"}],
                "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
            }
        }
    )


async def tokens(identity, request: Request) -> Response:
    """Issue (POST), validate (GET), check (HEAD); revocation (DELETE) is not offered."""
    catalog = "nocatalog" not in request.query_params
    if request.method == "POST":
        body = await _json_body(request)
        token, data = await run_in_threadpool(identity.issue_token, body, catalog)
        return JSONResponse(data, status_code=201, headers=_token_headers(token))
    caller = request.headers.get("X-Auth-Token")
    subject = request.headers.get("X-Subject-Token", "")  # none: validate_token says 404
    data = identity.validate_token(caller, subject, catalog)
    if request.method == "GET":
        return JSONResponse(data, headers=_token_headers(subject))
    if request.method == "HEAD":
        return Response(status_code=200, headers=_token_headers(subject))
    raise NotImplementedByNeutrino(
        "Tokens cannot be revoked: they are stateless and expire after "
        f"{identity.config.token_ttl} seconds."
    )


async def auth_catalog(identity, request: Request) -> Response:
    """The catalog for the caller's token."""
    identity.context_for_token(request.headers.get("X-Auth-Token") or "")
    return JSONResponse({"catalog": identity.catalog, "links": _links(identity, request)})


async def auth_projects(identity, request: Request) -> Response:
    """The projects the caller may scope a token to."""
    projects = identity.caller_projects(request.headers.get("X-Auth-Token"))
    return JSONResponse({"projects": projects, "links": _links(identity, request)})


async def auth_domains(identity, request: Request) -> Response:
    """Domains the caller may scope to: none, users hold roles on projects only."""
    identity.context_for_token(request.headers.get("X-Auth-Token") or "")
    return JSONResponse({"domains": [], "links": _links(identity, request)})


async def auth_system(identity, request: Request) -> Response:
    """System scopes the caller may use: none."""
    identity.context_for_token(request.headers.get("X-Auth-Token") or "")
    return JSONResponse({"system": [], "links": _links(identity, request)})


async def domains(identity, request: Request) -> Response:
    """List the domains (admin), filtered by name and enabled."""
    token = request.headers.get("X-Auth-Token")
    found = identity.list_domains(token, dict(request.query_params))
    return JSONResponse({"domains": found, "links": _links(identity, request)})


async def domain(identity, request: Request) -> Response:
    """Show one domain."""
    token = request.headers.get("X-Auth-Token")
    return JSONResponse({"domain": identity.get_domain(token, request.path_params["domain_id"])})


async def projects(identity, request: Request) -> Response:
    """List the projects (admin, GET) or create one (admin, POST)."""
    token = request.headers.get("X-Auth-Token")
    if request.method == "POST":
        body = await _json_body(request)
        created = await run_in_threadpool(identity.create_project, token, body)
        return JSONResponse({"project": created}, status_code=201)
    found = await run_in_threadpool(identity.list_projects, token, dict(request.query_params))
    return JSONResponse({"projects": found, "links": _links(identity, request)})


async def project(identity, request: Request) -> Response:
    """Show a project (GET) or delete one created through the API (admin, DELETE)."""
    token = request.headers.get("X-Auth-Token")
    project_id = request.path_params["project_id"]
    if request.method == "DELETE":
        await run_in_threadpool(identity.delete_project, token, project_id)
        return Response(status_code=204)
    found = await run_in_threadpool(identity.get_project, token, project_id)
    return JSONResponse({"project": found})


async def not_offered(identity, request: Request) -> Response:
    """Every other Keystone API: users and roles live in the config file."""
    raise NotImplementedByNeutrino(
        f"{request.method} {request.url.path} is not offered by neutrino's built-in identity; "
        "it issues and validates tokens, lists domains and projects and creates and deletes "
        "projects; users, roles, domains and the other projects come from the [identity] "
        "section of the config file."
    )


async def _json_body(request: Request):
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Expecting to find valid JSON in the request body.") from None


def _token_headers(token: str) -> dict:
    return {"X-Subject-Token": token, "Vary": "X-Auth-Token"}


def _links(identity, request: Request) -> dict:
    return {"self": f"{identity.public_url}{request.url.path}", "previous": None, "next": None}
