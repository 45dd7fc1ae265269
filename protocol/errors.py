"""Protocol errors, each with a stable ``code`` used as the rejection reason.

ProtocolError
 ├── MalformedMessage        code="malformed"     bytes or JSON that do not fit the schema
 │    ├── OversizedMessage   code="oversized"     larger than the documented limit
 │    └── TopicMismatch      code="topic_mismatch" body names another event or badge than its topic
 ├── UnsupportedVersion      code="unsupported_version"
 └── InvalidSignature        code="bad_signature"
"""


class ProtocolError(Exception):
    """Root of every error raised by the protocol package."""

    code = "protocol_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MalformedMessage(ProtocolError):
    """The bytes do not decode into the expected message."""

    code = "malformed"


class OversizedMessage(MalformedMessage):
    """The payload is larger than the limit for its kind."""

    code = "oversized"


class TopicMismatch(MalformedMessage):
    """The body's event or badge differs from the topic it arrived on."""

    code = "topic_mismatch"


class UnsupportedVersion(ProtocolError):
    """The message carries a schema version this implementation does not speak."""

    code = "unsupported_version"


class InvalidSignature(ProtocolError):
    """The Ed25519 signature does not verify over topic and body."""

    code = "bad_signature"
