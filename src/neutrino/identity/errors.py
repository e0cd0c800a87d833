"""Identity errors, each carrying the HTTP status and title Keystone uses for it.

Handlers turn an `IdentityError` into Keystone's error body:
``{"error": {"code": 401, "title": "Unauthorized", "message": "..."}}``.
"""


class IdentityError(Exception):
    """Base class: an error with a Keystone status code and title."""

    code = 500
    title = "Internal Server Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        """The Keystone error document."""
        return {"error": {"code": self.code, "title": self.title, "message": self.message}}


class BadRequest(IdentityError):
    """The request body is malformed (Keystone's ValidationError)."""

    code = 400
    title = "Bad Request"


class Unauthorized(IdentityError):
    """Authentication failed, or a token is invalid or expired."""

    code = 401
    title = "Unauthorized"

    def __init__(self, message: str = "The request you have made requires authentication.") -> None:
        super().__init__(message)


class Forbidden(IdentityError):
    """The caller is authenticated but may not do this."""

    code = 403
    title = "Forbidden"


class NotFound(IdentityError):
    """The subject token, domain or project is not found."""

    code = 404
    title = "Not Found"


class Conflict(IdentityError):
    """The request clashes with what exists (a project name taken in its domain)."""

    code = 409
    title = "Conflict"


class NotImplementedByNeutrino(IdentityError):
    """A Keystone API this built-in identity does not offer."""

    code = 501
    title = "Not Implemented"
