"""The composition of the gateway: registry, MQTT, processing, checkpoints, forwarding, status.

``run_gateway`` fetches the registry (retrying until the server answers), then runs
one asyncio.TaskGroup:

    MQTT subscriber -> consume (Processor) -> checkpoint (journal, then MQTT acks) -> forwarder
                                            status publisher, registry refresh

A message is acknowledged to the broker only after a checkpoint made its effects
durable. Shutdown (``stop`` set, or cancellation) takes a last checkpoint, acknowledges,
publishes a retained "offline" status and disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal, TypeVar

import httpx2

from gateway.backoff import Backoff
from gateway.ble import ZonePresence, start_scanner, stop_scanner
from gateway.clock import Clock, SystemClock
from gateway.config import GatewaySettings
from gateway.errors import JournalError, RegistryError
from gateway.forwarder import Forwarder
from gateway.journal import Journal, TinyDBJournal
from gateway.lag import ForwardLag
from gateway.metrics import MetricsEndpoint, StatusCollector
from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from gateway.registry_cache import RegistryCache
from gateway.subscriber import MqttSubscriber, Received
from gateway.uplink import Uplink
from protocol.api import GatewayStatus, Meeting, Registry
from protocol.encoding import encode_json
from protocol.topics import badge_subscription, gateway_status_topic

logger = logging.getLogger(__name__)

T = TypeVar("T")

HTTP_TIMEOUT_S = 10.0
RETRY_CAP_S = 30.0
_DRAIN_BATCH = 1000
_READY_POLL_S = 0.05


class _Stopped(Exception):
    """Raised inside the task group when ``stop`` is set, to end it."""


async def run_gateway(
    settings: GatewaySettings,
    *,
    http: httpx2.AsyncClient | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a gateway until ``stop`` is set or the task is cancelled.

    Args:
        settings: the gateway's settings.
        http: the HTTP client to reach the server (tests pass one on an ASGI or mock
            transport); by default one is created and closed here.
        stop: set it to stop cleanly.
    """
    stop = stop if stop is not None else asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(timeout=httpx2.Timeout(HTTP_TIMEOUT_S))
            )
        rng = random.Random()
        uplink = Uplink(http, settings.server_url, settings.token.get_secret_value())
        cache = RegistryCache(settings.journal_dir)
        backoff = Backoff(1.0, RETRY_CAP_S, rng)
        registry = await fetch_registry(uplink, backoff, stop, cache=cache)
        if registry is None:
            logger.info("stopped before the registry arrived")
            return
        gateway = Gateway(
            settings, registry, uplink, clock=SystemClock(), rng=rng, registry_cache=cache
        )
        await gateway.run(stop)


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


class Gateway:
    """One running gateway for the event of ``registry``.

    Args:
        settings: the gateway's settings.
        registry: the registry fetched from the server.
        uplink: the server API.
        clock: wall time (status timestamps, live-mode freshness).
        rng: jitter for backoffs.
        journal: the journal; a ``TinyDBJournal`` in ``settings.journal_dir`` if None.
        registry_cache: where refreshed registries are saved, if anywhere.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        registry: Registry,
        uplink: Uplink,
        *,
        clock: Clock,
        rng: random.Random,
        journal: Journal | None = None,
        registry_cache: RegistryCache | None = None,
    ) -> None:
        self._settings = settings
        self._registry_cache = registry_cache
        self._uplink = uplink
        self._clock = clock
        self._rng = rng
        self._event = registry.event
        self._gateway = registry.gateway
        self._status_topic = gateway_status_topic(registry.event, registry.gateway)
        self._counters: Counter[str] = Counter()
        self._processor = self._new_processor(BadgeRegistry(registry))
        self._journal: Journal = journal or TinyDBJournal(
            settings.journal_dir, settings.segment_seconds
        )
        # One worker: journal calls run in submission order, never concurrently.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._subscriber = MqttSubscriber(
            host=settings.broker_host,
            port=settings.broker_port,
            client_id=settings.client_id,
            subscription=badge_subscription(registry.event),
            will_topic=self._status_topic,
            will_payload=encode_json(GatewayStatus(gateway=registry.gateway, state="offline")),
            queue_size=settings.queue_size,
        )
        self._forwarder = Forwarder(
            self._journal,
            uplink,
            self._counters,
            batch=settings.forward_batch,
            interval_s=settings.forward_interval_s,
            backoff=Backoff(settings.forward_interval_s, RETRY_CAP_S, rng),
            executor=self._executor,
        )
        self._pending: list[Received] = []
        self._unsaved: list[Meeting] = []
        self._checkpoint_lock = asyncio.Lock()
        self._lag = ForwardLag()
        self._presence = ZonePresence(self._processor.registry, clock, self._counters)
        self._scanner: Any = None
        self._metrics: MetricsEndpoint | None = None

    def _new_processor(self, registry: BadgeRegistry) -> Processor:
        return Processor(
            registry,
            self._clock,
            live_clock=self._settings.live_clock,
            quorum=self._settings.watermark_quorum,
            counters=self._counters,
        )

    async def _io(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run(self, stop: asyncio.Event) -> None:
        """Open the journal, resume its state, and run every stage until stopped."""
        try:
            await self._io(self._journal.open)
            self._lag.journaled(self._journal.unforwarded(), self._clock.now())
            await self._resume()
            if self._settings.ble:
                self._scanner = await start_scanner(self._presence)
            self._start_metrics()
            await self._subscriber.start()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._supervise("consume", self._consume))
                tasks.create_task(self._supervise("checkpoint", self._checkpoint_loop))
                tasks.create_task(self._supervise("forward", self._forwarder.run))
                tasks.create_task(self._supervise("status", self._status_loop))
                tasks.create_task(self._supervise("registry", self._registry_loop))
                tasks.create_task(_raise_when_set(stop))
        except* _Stopped:
            logger.info("stop requested")
        finally:
            await self._shutdown()

    def _start_metrics(self) -> None:
        if not self._settings.metrics_port:
            return

        async def current() -> GatewayStatus:
            return self.status("online")

        collector = StatusCollector(current, asyncio.get_running_loop())
        endpoint = MetricsEndpoint(
            self._settings.metrics_host, self._settings.metrics_port, collector
        )
        try:
            endpoint.start()
        except OSError as exc:
            # Meetings matter more than metrics: go on without the endpoint.
            logger.error(
                "cannot serve metrics on %s:%d: %s; running without them",
                self._settings.metrics_host,
                self._settings.metrics_port,
                exc,
            )
            return
        self._metrics = endpoint

    @property
    def metrics_port(self) -> int | None:
        """The port of the metrics endpoint, None if it does not run."""
        return self._metrics.port if self._metrics is not None else None

    def _journal_checkpoint(self, meetings: list[Meeting], state: dict[str, Any]) -> int:
        """Run in the journal thread: checkpoint, return how many meetings were new."""
        before = self._journal.unforwarded()
        self._journal.checkpoint(meetings, state)
        return self._journal.unforwarded() - before

    async def _resume(self) -> None:
        state = await self._io(self._journal.load_state)
        if state is None:
            logger.info("no journal state; starting fresh")
            return
        try:
            self._processor.restore(state)
        except JournalError as exc:
            logger.error("cannot resume from the journal state (%s); starting empty", exc)
            self._counters.clear()
            self._processor = self._new_processor(self._processor.registry)
            return
        logger.info(
            "resumed from the journal: received=%d watermark=%s",
            self._counters["received"],
            self._processor.watermark,
        )

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a stage; if it fails on a bug, log it and restart it after a backoff."""
        backoff = Backoff(0.5, RETRY_CAP_S, self._rng)
        while True:
            try:
                await run()
                return
            except Exception:
                delay = backoff.next_delay()
                logger.error("%s stage failed; restarting in %.1f s", name, delay, exc_info=True)
                await asyncio.sleep(delay)

    async def _consume(self) -> None:
        limit = self._settings.checkpoint_max_messages
        while True:
            self._handle(await self._subscriber.get())
            for _ in range(_DRAIN_BATCH):
                item = self._subscriber.get_nowait()
                if item is None:
                    break
                self._handle(item)
            if len(self._pending) >= limit and not await self._checkpoint():
                await asyncio.sleep(self._settings.checkpoint_interval_s)
            await asyncio.sleep(0)

    def _handle(self, item: Received) -> None:
        self._processor.handle(item.topic, item.payload)
        self._pending.append(item)

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.checkpoint_interval_s)
            await self._checkpoint()

    async def _checkpoint(self, *, force: bool = False) -> bool:
        """Journal new meetings and the state, then acknowledge what the state covers."""
        async with self._checkpoint_lock:
            self._unsaved.extend(self._processor.take_meetings())
            if not (force or self._pending or self._unsaved):
                return True
            meetings = list(self._unsaved)
            state = self._processor.snapshot()
            acks, self._pending = self._pending, []
            try:
                fresh = await self._io(partial(self._journal_checkpoint, meetings, state))
            except JournalError as exc:
                self._pending[:0] = acks
                logger.error("checkpoint failed: %s; %d messages wait", exc, len(self._pending))
                return False
            except asyncio.CancelledError:
                # The write goes on in the journal thread; the final checkpoint follows it.
                self._pending[:0] = acks
                raise
            del self._unsaved[: len(meetings)]
            self._lag.journaled(fresh, self._clock.now())
            acked = self._subscriber.ack(acks)
            logger.debug("checkpoint meetings=%d acked=%d", len(meetings), acked)
            if meetings:
                self._forwarder.wake()
            return True

    async def _status_loop(self) -> None:
        # "online" means ready: only once the broker confirmed the subscription, since
        # messages published before it exists never reach this gateway's session.
        while not self._subscriber.is_subscribed:
            await asyncio.sleep(_READY_POLL_S)
        logger.info("online: subscribed to the badges of event %s", self._event)
        while True:
            self._subscriber.publish(
                self._status_topic, encode_json(self.status("online")), retain=True
            )
            await asyncio.sleep(self._settings.status_interval_s)

    def status(self, state: Literal["online", "offline"]) -> GatewayStatus:
        """Counters and gauges as the retained status message carries them."""
        gauges = self._processor.gauges()
        gauges["journal_unforwarded"] = float(
            self._journal.unforwarded() + len(self._unsaved) + self._processor.untaken
        )
        gauges["unacknowledged"] = float(len(self._pending))
        gauges["forward_lag_seconds"] = self._lag.seconds(
            self._journal.unforwarded(), self._clock.now()
        )
        if self._settings.ble:
            gauges["ble_badges_in_zone"] = float(len(self._presence.present()))
        gauges["mqtt_connected"] = float(self._subscriber.is_connected)
        gauges["mqtt_subscribed"] = float(self._subscriber.is_subscribed)
        return GatewayStatus(
            gateway=self._gateway,
            state=state,
            t=self._clock.now(),
            counters=dict(self._counters),
            gauges=gauges,
        )

    async def _registry_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.registry_refresh_s)
            try:
                registry = await self._uplink.fetch_registry()
                self._processor.update_registry(registry)
            except RegistryError as exc:
                logger.warning("registry refresh failed: %s; keeping the current one", exc)
                continue
            if self._registry_cache is not None:
                await asyncio.to_thread(self._registry_cache.save, registry)
            logger.debug("registry refreshed badges=%d", len(registry.badges))

    async def _shutdown(self) -> None:
        try:
            await self._checkpoint(force=True)
        finally:
            if self._scanner is not None:
                await stop_scanner(self._scanner)
                self._scanner = None
            if self._metrics is not None:
                await asyncio.to_thread(self._metrics.stop)
                self._metrics = None
            final = (self._status_topic, encode_json(self.status("offline")))
            await self._subscriber.stop(final=final)
            with contextlib.suppress(JournalError):
                await self._io(self._journal.close)
            self._executor.shutdown(wait=True)
            logger.info("gateway stopped received=%d", self._counters["received"])


async def _raise_when_set(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stopped
