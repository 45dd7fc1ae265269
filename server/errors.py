"""Errors the server's services raise, each with a stable machine ``code``.

ServerError                 code="server_error"
 ├── BadRequest             code="bad_request"       the request cannot be understood (400)
 │    └── PayloadTooLarge   code="payload_too_large" the body exceeds a documented limit (413)
 ├── Unprocessable          code="malformed"         the body does not fit its schema (422)
 ├── Unauthorized           code="unauthorized"      no or unknown credentials (401)
 ├── Forbidden              code="forbidden"         valid credentials, not allowed here (403)
 ├── NotFound               code="not_found"         no such resource (404)
 ├── Conflict               code="conflict"          clashes with what is stored (409)
 └── Unavailable            code="unavailable"       try again later, nothing was changed (503)

Services raise these; only ``server.main`` maps them to HTTP status codes, and
every error response body is exactly ``{"code": ..., "detail": ...}``.
"""

from __future__ import annotations


class ServerError(Exception):
    """Root of every error the server reports to a client.

    Args:
        detail: a human-readable explanation (never a secret).
        code: a stable machine code; defaults to the class's ``code``.
    """

    code = "server_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class BadRequest(ServerError):
    """The request is syntactically valid HTTP but cannot be acted on."""

    code = "bad_request"


class PayloadTooLarge(BadRequest):
    """The request body is larger than the endpoint accepts."""

    code = "payload_too_large"


class Unprocessable(ServerError):
    """The body does not decode into the expected schema."""

    code = "malformed"


class Unauthorized(ServerError):
    """Credentials are missing or unknown."""

    code = "unauthorized"


class Forbidden(ServerError):
    """Credentials are valid but do not allow this request."""

    code = "forbidden"


class NotFound(ServerError):
    """The named resource does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(ServerError):
    """The request clashes with stored state (duplicate id, active badge...)."""

    code = "conflict"


class Unavailable(ServerError):
    """A transient condition (e.g. repeated write races); nothing was changed, retry later."""

    code = "unavailable"
