"""The registry: fetched at start-up (or taken from the cache during an outage), then refreshed.

The gateway cannot verify anything before it has a registry; once running, it keeps the
current one whenever a refresh fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from gateway.backoff import Backoff
from gateway.errors import RegistryError
from gateway.registry_cache import RegistryCache
from gateway.uplink import Uplink
from protocol.api import Registry

logger = logging.getLogger(__name__)


async def fetch_registry(
    uplink: Uplink,
    backoff: Backoff,
    stop: asyncio.Event,
    *,
    cache: RegistryCache | None = None,
) -> Registry | None:
    """Fetch the registry, retrying with backoff; None if ``stop`` is set first.

    With a ``cache``, a fetched registry is saved to it, and if the first attempt fails
    the cached registry (if any) is used at once: a gateway restarted during a server
    outage goes on verifying, journaling and acknowledging; its registry loop refreshes
    the registry once the server answers again.
    """
    while not stop.is_set():
        try:
            registry = await uplink.fetch_registry()
        except RegistryError as exc:
            cached = await asyncio.to_thread(cache.load) if cache is not None else None
            if cached is not None:
                logger.warning(
                    "registry not available: %s; starting with the cached registry "
                    "event=%s badges=%d",
                    exc,
                    cached.event,
                    len(cached.badges),
                )
                return cached
            delay = backoff.next_delay()
            logger.warning("registry not available: %s; retry in %.1f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            continue
        logger.info(
            "registry event=%s gateway=%s zone=%r badges=%d",
            registry.event,
            registry.gateway,
            registry.zone,
            len(registry.badges),
        )
        if cache is not None:
            await asyncio.to_thread(cache.save, registry)
        return registry
    return None


async def refresh_registry(
    uplink: Uplink,
    update: Callable[[Registry], None],
    interval_s: float,
    cache: RegistryCache | None,
) -> None:
    """Every ``interval_s``, fetch the registry and hand it to ``update``; runs forever.

    A refreshed registry is saved to ``cache`` (if any); a failed fetch or update keeps
    the current registry.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            registry = await uplink.fetch_registry()
            update(registry)
        except RegistryError as exc:
            logger.warning("registry refresh failed: %s; keeping the current one", exc)
            continue
        if cache is not None:
            await asyncio.to_thread(cache.save, registry)
        logger.debug("registry refreshed badges=%d", len(registry.badges))
