"""The composition of the gateway: registry, MQTT, processing, checkpoints, forwarding, status.

``run_gateway`` fetches the registry (retrying until the server answers), then runs
one asyncio.TaskGroup:

    MQTT subscriber -> consume (Processor) -> checkpoint (journal, then MQTT acks) -> forwarder
                                            status publisher, registry refresh

Check-in readers (``gateway.readers``) live in the Processor; a reader loop issues their
nonces (saved, then published retained), the checkpoint journals their records in the
check-in journal first, a second forwarder sends them, and ``gateway.foreign`` feeds
other events' check-ins to them.

A message is acknowledged to the broker only after a checkpoint made its effects
durable. Shutdown (``stop`` set, or cancellation) takes a last checkpoint, acknowledges,
publishes a retained "offline" status and disconnects.

The stages live beside this module: ``gateway.registry_fetch`` (the registry at start-up
and refreshed), ``gateway.recovery`` (resuming from the journal), ``gateway.checkpointing``
(the group commit), ``gateway.nonce_announcer`` (reader nonces saved, then published),
``gateway.status`` (status and metrics), ``gateway.supervisor`` (restarting a failed stage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import httpx2

from gateway import heap
from gateway.backoff import Backoff
from gateway.ble import ZonePresence, start_scanner, stop_scanner
from gateway.checkins import SUBDIRECTORY, CheckInJournal
from gateway.checkpointing import CHECKPOINT_RETRY_S, Checkpointer
from gateway.clock import Clock, SystemClock
from gateway.config import GatewaySettings
from gateway.errors import JournalError
from gateway.foreign import SUBSCRIPTION as FOREIGN_CHECKINS
from gateway.foreign import ForeignCheckIns
from gateway.forwarder import Forwarder
from gateway.journal import Journal, TinyDBJournal
from gateway.lag import ForwardLag
from gateway.metrics import MetricsEndpoint
from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.mqtt_client import MqttClient, Received
from gateway.nonce_announcer import announce_nonces, load_nonces
from gateway.processor import Processor
from gateway.reader_nonces import NoncePolicy, NonceSource
from gateway.readers import ReaderConfig, Readers, parse_readers
from gateway.recovery import replay_checkins, resume
from gateway.registry import BadgeRegistry
from gateway.registry_cache import RegistryCache
from gateway.registry_fetch import fetch_registry, refresh_registry
from gateway.relay import BleRelay, RelayError
from gateway.status import StatusReport, serve_metrics
from gateway.subscriber import MqttSubscriber
from gateway.supervisor import Stopped, raise_when_set, supervise
from gateway.uplink import Uplink
from protocol.api import GatewayStatus, Registry
from protocol.encoding import encode_json
from protocol.topics import badge_subscription, gateway_status_topic

logger = logging.getLogger(__name__)

T = TypeVar("T")

HTTP_TIMEOUT_S = 10.0
RETRY_CAP_S = 30.0
_DRAIN_BATCH = 200  # messages handled between two yields to the event loop
_READY_POLL_S = 0.05
RELAY_PUBLISH_TIMEOUT_S = 10.0


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


def new_mqtt_client(
    settings: GatewaySettings,
    *,
    client_id: str,
    subscription: str,
    will_topic: str,
    will_payload: bytes,
    rng: random.Random,
) -> MqttClient:
    """The MQTT client ``settings.mqtt_client`` names (``asyncio`` or ``paho``)."""
    if settings.mqtt_client == "paho":
        return MqttSubscriber(
            host=settings.broker_host,
            port=settings.broker_port,
            client_id=client_id,
            subscription=subscription,
            will_topic=will_topic,
            will_payload=will_payload,
            queue_size=settings.queue_size,
        )
    return AsyncioMqttClient(
        host=settings.broker_host,
        port=settings.broker_port,
        client_id=client_id,
        subscription=subscription,
        will_topic=will_topic,
        will_payload=will_payload,
        queue_size=settings.queue_size,
        rng=random.Random(rng.random()),
    )


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
        nonce_bytes: random source of reader nonces (``secrets.token_bytes`` if None).
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
        nonce_bytes: NonceSource | None = None,
    ) -> None:
        self._settings = settings
        self._nonce_bytes = nonce_bytes or secrets.token_bytes
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
        self._subscriber = new_mqtt_client(
            settings,
            client_id=settings.client_id,
            subscription=badge_subscription(registry.event),
            will_topic=self._status_topic,
            will_payload=encode_json(GatewayStatus(gateway=registry.gateway, state="offline")),
            rng=rng,
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
        self._checkins = CheckInJournal(
            settings.journal_dir / SUBDIRECTORY, settings.segment_seconds
        )
        self._checkin_forwarder = Forwarder(
            self._checkins,
            uplink,
            self._counters,
            batch=settings.forward_batch,
            interval_s=settings.forward_interval_s,
            backoff=Backoff(settings.forward_interval_s, RETRY_CAP_S, rng),
            executor=self._executor,
            send=uplink.post_checkins,
            counter_prefix="checkins.",
            what="check-in",
        )
        self._foreign: ForeignCheckIns | None = None
        if settings.foreign_checkins:
            foreign = new_mqtt_client(
                settings,
                client_id=f"{settings.client_id}-foreign",
                subscription=FOREIGN_CHECKINS,
                will_topic=self._status_topic,
                will_payload=encode_json(GatewayStatus(gateway=registry.gateway, state="offline")),
                rng=rng,
            )
            self._foreign = ForeignCheckIns(
                foreign, registry.event, self._decide_foreign, self._wake_checkpoint
            )
        self._lag = ForwardLag()
        self._checkpointer = Checkpointer(
            lambda: self._processor,
            self._journal,
            self._checkins,
            self._subscriber,
            self._foreign,
            self._forwarder,
            self._checkin_forwarder,
            self._lag,
            clock,
            self._io,
            settings.checkpoint_interval_s,
        )
        self._presence = ZonePresence(self._processor.registry, clock, self._counters)
        self._relay = BleRelay(
            self._processor.registry, self._publish_relayed, self._counters, clock
        )
        self._report = StatusReport(
            registry.gateway,
            lambda: self._processor,
            self._journal,
            self._checkins,
            self._checkpointer,
            self._lag,
            self._subscriber,
            self._foreign,
            self._presence if settings.ble else None,
            self._counters,
            clock,
        )
        self._scanner: Any = None
        self._heap_frozen = False
        self._metrics: MetricsEndpoint | None = None

    def _new_processor(self, registry: BadgeRegistry) -> Processor:
        return Processor(
            registry,
            self._clock,
            live_clock=self._settings.live_clock,
            quorum=self._settings.watermark_quorum,
            counters=self._counters,
            readers=self._new_readers(registry),
        )

    def _new_readers(self, registry: BadgeRegistry) -> Readers:
        configured = parse_readers(self._settings.readers) or [
            ReaderConfig(registry.gateway, registry.zone[:64])
        ]
        policy = NoncePolicy(
            interval_s=self._settings.reader_nonce_interval_s,
            valid_s=self._settings.reader_nonce_valid_s,
            memory_s=self._settings.reader_nonce_memory_s,
        )
        return Readers(
            registry.event,
            registry.gateway,
            configured,
            self._clock,
            self._nonce_bytes,
            policy,
            self._counters,
            is_authority=self._settings.reader_authority,
        )

    async def _io(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run(self, stop: asyncio.Event) -> None:
        """Open the journal, resume its state, and run every stage until stopped."""
        try:
            await self._io(self._journal.open)
            await self._io(self._checkins.open)
            self._lag.journaled(self._journal.unforwarded(), self._clock.now())
            await self._resume()
            if self._settings.ble:
                self._scanner = await start_scanner(self._presence, self._relay.on_advertisement)
            if self._settings.metrics_port:
                self._metrics = serve_metrics(
                    self._settings.metrics_host, self._settings.metrics_port, self._current
                )
            if self._settings.freeze_heap:
                heap.freeze()
                self._heap_frozen = True
            await self._subscriber.start()
            if self._foreign is not None:
                await self._foreign.start()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._supervise("consume", self._consume))
                tasks.create_task(self._supervise("checkpoint", self._checkpointer.run))
                tasks.create_task(self._supervise("forward", self._forwarder.run))
                tasks.create_task(self._supervise("checkins", self._checkin_forwarder.run))
                tasks.create_task(self._supervise("readers", self._reader_loop))
                if self._foreign is not None:
                    tasks.create_task(self._supervise("foreign", self._foreign.run))
                tasks.create_task(self._supervise("status", self._status_loop))
                if self._settings.ble:
                    tasks.create_task(self._supervise("relay", self._relay.run))
                tasks.create_task(self._supervise("registry", self._registry_loop))
                tasks.create_task(raise_when_set(stop))
        except* Stopped:
            logger.info("stop requested")
        finally:
            await self._shutdown()

    async def _current(self) -> GatewayStatus:
        return self.status("online")

    @property
    def metrics_port(self) -> int | None:
        """The port of the metrics endpoint, None if it does not run."""
        return self._metrics.port if self._metrics is not None else None

    async def _resume(self) -> None:
        """Resume the journal's state, then the saved reader nonces and newer check-ins."""
        registry = self._processor.registry
        self._processor, saved_at = await resume(
            self._processor, self._journal, self._io, lambda: self._new_processor(registry)
        )
        readers = self._processor.readers
        if readers is not None:
            await load_nonces(readers, self._checkins, self._io)
            await replay_checkins(readers, saved_at, self._checkins, self._io)

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        await supervise(name, run, Backoff(0.5, RETRY_CAP_S, self._rng))

    async def _consume(self) -> None:
        limit = self._settings.checkpoint_max_messages
        while True:
            self._handle(await self._subscriber.get())
            for _ in range(_DRAIN_BATCH):
                item = self._subscriber.get_nowait()
                if item is None:
                    break
                self._handle(item)
            if self._checkpointer.waiting >= limit and not await self._checkpointer.checkpoint():
                await asyncio.sleep(CHECKPOINT_RETRY_S)
            await asyncio.sleep(0)

    def _handle(self, item: Received) -> None:
        self._processor.handle(item.topic, item.payload)
        self._checkpointer.add(item)

    async def _publish_relayed(self, topic: str, payload: bytes) -> None:
        """Publish a message the BLE relay received; return once the broker has it."""
        if not await self._subscriber.publish_confirmed(topic, payload, RELAY_PUBLISH_TIMEOUT_S):
            raise RelayError(f"the broker did not acknowledge a relayed message on {topic}")

    async def _subscribed(self) -> None:
        while not self._subscriber.is_subscribed:
            await asyncio.sleep(_READY_POLL_S)

    async def _status_loop(self) -> None:
        # "online" means ready: only once the broker confirmed the subscription, since
        # messages published before it exists never reach this gateway's session.
        await self._subscribed()
        logger.info("online: subscribed to the badges of event %s", self._event)
        while True:
            self._subscriber.publish(
                self._status_topic, encode_json(self.status("online")), retain=True
            )
            await asyncio.sleep(self._settings.status_interval_s)

    def status(self, state: Literal["online", "offline"]) -> GatewayStatus:
        """Counters and gauges as the retained status message carries them."""
        return self._report.build(state)

    def _decide_foreign(self, topic: str, payload: bytes) -> None:
        self._processor.handle_foreign_checkin(topic, payload)

    def _wake_checkpoint(self) -> None:
        self._checkpointer.wake()

    async def _reader_loop(self) -> None:
        readers = self._processor.readers
        if readers is None:
            return
        await self._subscribed()
        await announce_nonces(
            readers,
            self._checkins,
            self._subscriber,
            self._io,
            self._settings.reader_nonce_interval_s,
        )

    async def _registry_loop(self) -> None:
        await refresh_registry(
            self._uplink,
            self._update_registry,
            self._settings.registry_refresh_s,
            self._registry_cache,
        )

    def _update_registry(self, registry: Registry) -> None:
        self._processor.update_registry(registry)

    async def _shutdown(self) -> None:
        try:
            await self._checkpointer.checkpoint(force=True)
        finally:
            self._processor.flush_logs()
            if self._scanner is not None:
                await stop_scanner(self._scanner)
                self._scanner = None
            if self._metrics is not None:
                await asyncio.to_thread(self._metrics.stop)
                self._metrics = None
            final = (self._status_topic, encode_json(self.status("offline")))
            await self._subscriber.stop(final=final)
            if self._foreign is not None:
                await self._foreign.stop()
            with contextlib.suppress(JournalError):
                await self._io(self._journal.close)
            await self._io(self._checkins.close)
            self._executor.shutdown(wait=True)
            if self._heap_frozen:
                heap.thaw()
                self._heap_frozen = False
            logger.info("gateway stopped received=%d", self._counters["received"])
