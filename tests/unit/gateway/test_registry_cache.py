"""RegistryCache and fetch_registry's offline start: a gateway restarted during an outage."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx2

from gateway.backoff import Backoff
from gateway.registry_cache import REGISTRY_FILE, RegistryCache
from gateway.registry_fetch import fetch_registry
from gateway.uplink import Uplink
from protocol.api import Registry
from protocol.encoding import encode_json

BASE = "http://server.test"


def uplink_answering(client: httpx2.AsyncClient) -> Uplink:
    return Uplink(client, BASE, "gateway-token")


def serving(registry: Registry) -> httpx2.MockTransport:
    return httpx2.MockTransport(lambda request: httpx2.Response(200, content=encode_json(registry)))


def refusing() -> httpx2.MockTransport:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    return httpx2.MockTransport(refuse)


def test_save_then_load_round_trips(tmp_path: Path, registry: Registry) -> None:
    cache = RegistryCache(tmp_path / "journal")
    assert cache.load() is None
    cache.save(registry)
    assert cache.load() == registry
    assert list((tmp_path / "journal").glob(".*.tmp")) == []  # written atomically


def test_a_corrupt_cache_is_moved_aside_and_ignored(tmp_path: Path, registry: Registry) -> None:
    cache = RegistryCache(tmp_path)
    cache.save(registry)
    whole = cache.path.read_bytes()
    cache.path.write_bytes(whole[: len(whole) // 2])
    assert cache.load() is None
    assert not cache.path.exists()
    assert (tmp_path / f"{REGISTRY_FILE}.corrupt").exists()


async def test_a_fetched_registry_is_cached(tmp_path: Path, registry: Registry) -> None:
    cache = RegistryCache(tmp_path)
    async with httpx2.AsyncClient(transport=serving(registry)) as client:
        got = await fetch_registry(
            uplink_answering(client),
            Backoff(0.01, 0.01, random.Random(1)),
            asyncio.Event(),
            cache=cache,
        )
    assert got == registry
    assert cache.load() == registry


async def test_server_down_at_start_uses_the_cached_registry(
    tmp_path: Path, registry: Registry
) -> None:
    cache = RegistryCache(tmp_path)
    cache.save(registry)
    async with httpx2.AsyncClient(transport=refusing()) as client:
        got = await fetch_registry(
            uplink_answering(client),
            Backoff(0.01, 0.01, random.Random(1)),
            asyncio.Event(),
            cache=cache,
        )
    assert got == registry


async def test_server_down_and_no_cache_keeps_retrying_until_stopped(tmp_path: Path) -> None:
    stop = asyncio.Event()
    attempts = 0

    def refuse(request: httpx2.Request) -> httpx2.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 3:
            stop.set()
        raise httpx2.ConnectError("refused", request=request)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(refuse)) as client:
        got = await fetch_registry(
            uplink_answering(client),
            Backoff(0.001, 0.001, random.Random(1)),
            stop,
            cache=RegistryCache(tmp_path),
        )
    assert got is None and attempts == 3
