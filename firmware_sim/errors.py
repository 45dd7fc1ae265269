"""Errors of the simulator.

SimError
 ├── BundleError       the provisioning bundles cannot be used (none valid, mixed events)
 ├── PublishError      the broker cannot be reached or refused the connection
 └── TraceError        a contact trace cannot be read or has no usable line
"""

from __future__ import annotations


class SimError(Exception):
    """Root of every error raised by the simulator."""

    code = "sim_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BundleError(SimError):
    """The provisioning bundles cannot be used as a whole."""

    code = "bad_bundles"


class PublishError(SimError):
    """Publishing to the broker failed in a way the simulator cannot work around."""

    code = "publish_failed"

    def __init__(self, detail: str, *, retryable: bool = True) -> None:
        super().__init__(detail)
        self.retryable = retryable


class TraceError(SimError):
    """A contact trace cannot be replayed at all (unreadable, or not one usable line)."""

    code = "bad_trace"
