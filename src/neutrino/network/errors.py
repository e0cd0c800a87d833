"""Neutron's errors: the ones the domain raises and the API answers with, as Neutron's.

    {"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}

`ApiError(status, type, message)` is raised by the domain (`network`) and by the
API; the status is the one Neutron answers the error with, so the API renders any
of them as it is. The helpers name the common ones so their messages read as
Neutron's do. `InvalidInput` is a value a caller gave that is not acceptable (the
API answers it as a 400 naming the attribute).
"""


class InvalidInput(ValueError):
    """A value a caller gave is not acceptable; the message says why."""


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message

    def body(self) -> dict:
        return {"NeutronError": {"type": self.type, "message": self.message, "detail": ""}}


def bad_request(message: str, type_: str = "HTTPBadRequest") -> ApiError:
    return ApiError(400, type_, message)


def invalid(attr: str, reason: str) -> ApiError:
    return ApiError(400, "HTTPBadRequest", f"Invalid input for {attr}. Reason: {reason}.")


def invalid_input(message: str) -> ApiError:
    return ApiError(400, "InvalidInput", f"Invalid input for operation: {message}.")


def not_found(kind: str, resource_id: str) -> ApiError:
    """`kind` as Neutron names it: Network, Subnet, Port, Router, FloatingIP, Agent."""
    noun = {"FloatingIP": "Floating IP", "Agent": "Agent"}.get(kind, kind.lower())
    if kind == "FloatingIP":
        message = f"Floating IP {resource_id} could not be found"
    else:
        message = f"{noun.capitalize()} {resource_id} could not be found."
    return ApiError(404, f"{kind}NotFound", message)


def conflict(type_: str, message: str) -> ApiError:
    return ApiError(409, type_, message)


def forbidden(action: str) -> ApiError:
    return ApiError(403, "PolicyNotAuthorized", f"rule:{action} is disallowed by policy")


def not_authenticated() -> ApiError:
    return ApiError(401, "HTTPUnauthorized", "Authentication required")
