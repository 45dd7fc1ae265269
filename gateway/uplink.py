"""The HTTP adapter to the server: fetch the registry, post meeting and check-in batches.

The only gateway module that imports httpx2 (the client itself is injected). It
translates every transport error and status code into ``RegistryError`` or
``ForwardError(retryable=...)``; the token never appears in an error or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx2

from gateway.errors import ForwardError, RegistryError
from protocol.api import (
    CheckInBatch,
    CheckInRecord,
    IngestResult,
    Meeting,
    MeetingBatch,
    Registry,
)
from protocol.encoding import decode_json, encode_json
from protocol.errors import MalformedMessage

logger = logging.getLogger(__name__)

REGISTRY_PATH = "/api/v1/gateway/registry"
MEETINGS_PATH = "/api/v1/gateway/meetings"
CHECKINS_PATH = "/api/v1/gateway/checkins"


class Uplink:
    """Talks to the server's gateway API with a bearer token.

    Args:
        http: the client (its transport decides where requests go; tests inject one).
        server_url: base URL of the server, without a trailing slash.
        token: the gateway token.
    """

    def __init__(self, http: httpx2.AsyncClient, server_url: str, token: str) -> None:
        self._http = http
        self._base = server_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def fetch_registry(self) -> Registry:
        """GET the event registry.

        Raises:
            RegistryError: the server is unreachable, refuses, or sends something else.
        """
        url = self._base + REGISTRY_PATH
        try:
            response = await self._http.get(url, headers=self._headers)
        except httpx2.HTTPError as exc:
            raise RegistryError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RegistryError(f"GET {url}: HTTP {response.status_code}: {response.text[:200]!r}")
        try:
            return decode_json(response.content, Registry)
        except MalformedMessage as exc:
            raise RegistryError(f"GET {url}: not a registry: {exc.detail}") from exc

    async def post_meetings(self, meetings: Sequence[Meeting]) -> IngestResult:
        """POST one batch of meetings.

        Raises:
            ForwardError: retryable for connect errors, timeouts and 5xx; not retryable
                for other statuses or an answer that is not an IngestResult.
        """
        return await self._post(MEETINGS_PATH, encode_json(MeetingBatch(meetings=list(meetings))))

    async def post_checkins(self, records: Sequence[CheckInRecord]) -> IngestResult:
        """POST one batch of check-in records (idempotent on check-in id).

        Raises:
            ForwardError: as ``post_meetings``.
        """
        return await self._post(CHECKINS_PATH, encode_json(CheckInBatch(checkins=list(records))))

    async def _post(self, path: str, body: bytes) -> IngestResult:
        url = self._base + path
        headers = {**self._headers, "Content-Type": "application/json"}
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx2.TimeoutException as exc:
            detail = f"POST {url}: timeout ({type(exc).__name__})"
            raise ForwardError(detail, retryable=True) from exc
        except httpx2.HTTPError as exc:
            raise ForwardError(f"POST {url}: {type(exc).__name__}: {exc}", retryable=True) from exc
        status = response.status_code
        if not 200 <= status < 300:
            raise ForwardError(
                f"POST {url}: HTTP {status}: {response.text[:200]!r}",
                retryable=status >= 500 or status in (408, 429),
                status=status,
            )
        try:
            return decode_json(response.content, IngestResult)
        except MalformedMessage as exc:
            raise ForwardError(
                f"POST {url}: HTTP {status} but not an ingest result: {exc.detail}",
                retryable=False,
                status=status,
            ) from exc
