"""Errors raised inside the gateway, each translated from foreign exceptions at its adapter.

GatewayError
 ├── VerificationError(code)       a badge message was rejected; ``code`` is its counter label
 ├── ForwardError(retryable)       the server did not take a batch of meetings
 ├── RegistryError                 the event registry could not be fetched, decoded or applied
 ├── JournalError                  the journal could not be read or written
 │    └── CorruptJournalFile(path) a journal file does not parse (cut off mid-write, truncated)
 └── MqttProtocolError             the broker sent bytes that are not an MQTT 3.1.1 packet for us
"""

from __future__ import annotations

from pathlib import Path


class GatewayError(Exception):
    """Root of every error the gateway raises."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class VerificationError(GatewayError):
    """A badge message broke a rule; ``code`` is a stable rejection reason.

    Reasons: malformed, oversized, topic_mismatch, unsupported_version, wrong_event,
    unknown_badge, revoked_badge, bad_signature, stale, future, replay, wrong_window_len.
    """

    def __init__(
        self, code: str, detail: str, *, badge: str | None = None, seq: int | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.badge = badge
        self.seq = seq


class ForwardError(GatewayError):
    """The server did not accept a batch.

    ``retryable`` is True for outages (connect errors, timeouts, 5xx) and False when a
    human must act (401, 403, a 4xx for the whole batch, an unreadable answer). The
    forwarder retries both, with backoff; the flag decides the log level.
    """

    def __init__(self, detail: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.status = status


class RegistryError(GatewayError):
    """The registry could not be fetched or decoded, or does not fit this gateway."""


class JournalError(GatewayError):
    """Reading or writing the journal failed."""


class CorruptJournalFile(JournalError):
    """A journal file holds bytes that are not a TinyDB JSON document."""

    def __init__(self, detail: str, *, path: Path) -> None:
        super().__init__(detail)
        self.path = path


class MqttProtocolError(GatewayError):
    """The broker sent a malformed or unexpected packet; the connection is dropped."""
