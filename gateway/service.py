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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal, TypeVar

import httpx2

from gateway import heap
from gateway.backoff import Backoff
from gateway.ble import ZonePresence, start_scanner, stop_scanner
from gateway.checkins import SUBDIRECTORY, CheckInJournal
from gateway.clock import Clock, SystemClock
from gateway.config import GatewaySettings
from gateway.errors import JournalError, RegistryError
from gateway.foreign import SUBSCRIPTION as FOREIGN_CHECKINS
from gateway.foreign import ForeignCheckIns
from gateway.forwarder import Forwarder
from gateway.journal import Journal, TinyDBJournal
from gateway.lag import ForwardLag
from gateway.metrics import MetricsEndpoint, StatusCollector
from gateway.mqtt_asyncio import AsyncioMqttClient
from gateway.mqtt_client import MqttClient, Received
from gateway.processor import Processor
from gateway.readers import NoncePolicy, NonceSource, ReaderConfig, Readers, parse_readers
from gateway.registry import BadgeRegistry
from gateway.registry_cache import RegistryCache
from gateway.relay import BleRelay, RelayError
from gateway.subscriber import MqttSubscriber
from gateway.uplink import Uplink
from protocol.api import CheckInRecord, GatewayStatus, Meeting, ReaderNonce, Registry
from protocol.encoding import encode_json
from protocol.topics import badge_subscription, gateway_status_topic, reader_nonce_topic

logger = logging.getLogger(__name__)

T = TypeVar("T")

HTTP_TIMEOUT_S = 10.0
RETRY_CAP_S = 30.0
_DRAIN_BATCH = 200  # messages handled between two yields to the event loop
_READY_POLL_S = 0.05
RELAY_PUBLISH_TIMEOUT_S = 10.0
CHECKPOINT_LOOP_SHARE = 0.25
"""Most of the event loop's time that checkpoint snapshots may take (group commit spacing)."""
CHECKPOINT_RETRY_S = 1.0
SAVED_AT = "saved_at"
"""Field of the checkpointed state: the gateway's wall time when it was taken."""


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
        self._unsaved_checkins: list[CheckInRecord] = []
        # wall time of the checkpoint resumed from; None: no state; NaN: the state lacks it
        self._saved_at: float | None = None
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
        self._pending: list[Received] = []
        self._unsaved: list[Meeting] = []
        self._replay_unsaved = bytearray()
        # the first checkpoint writes the whole replay memory as a new base, whatever the
        # journal held before (an older format, or files a failed resume did not use)
        self._replay_base_due = True
        self._contacts_unsaved = bytearray()  # the same for the contact state
        self._contacts_base_due = True
        self._waiting = asyncio.Event()
        self._snapshot_s = 0.0
        self._in_flight = 0  # messages of the checkpoint being written
        self._checkpoint_lock = asyncio.Lock()
        self._lag = ForwardLag()
        self._presence = ZonePresence(self._processor.registry, clock, self._counters)
        self._relay = BleRelay(
            self._processor.registry, self._publish_relayed, self._counters, clock
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
            await self._load_nonces()
            await self._replay_checkins()
            if self._settings.ble:
                self._scanner = await start_scanner(self._presence, self._relay.on_advertisement)
            self._start_metrics()
            if self._settings.freeze_heap:
                heap.freeze()
                self._heap_frozen = True
            await self._subscriber.start()
            if self._foreign is not None:
                await self._foreign.start()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._supervise("consume", self._consume))
                tasks.create_task(self._supervise("checkpoint", self._checkpoint_loop))
                tasks.create_task(self._supervise("forward", self._forwarder.run))
                tasks.create_task(self._supervise("checkins", self._checkin_forwarder.run))
                tasks.create_task(self._supervise("readers", self._reader_loop))
                if self._foreign is not None:
                    tasks.create_task(self._supervise("foreign", self._foreign.run))
                tasks.create_task(self._supervise("status", self._status_loop))
                if self._settings.ble:
                    tasks.create_task(self._supervise("relay", self._relay.run))
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

    def _journal_checkpoint(
        self,
        meetings: list[Meeting],
        state: dict[str, Any],
        replay: bytes,
        base: bytes | None,
        contacts: tuple[bytes, Callable[[], bytes] | None],
    ) -> int:
        """Run in the journal thread: checkpoint, return how many meetings were new.

        A contact base due is dumped here, from the copy the event loop took.
        """
        before = self._journal.unforwarded()
        self._journal.save_replay(replay, base)
        changes, dump_base = contacts
        self._journal.save_contacts(changes, dump_base() if dump_base is not None else None)
        self._journal.checkpoint(meetings, state)
        return self._journal.unforwarded() - before

    async def _resume(self) -> None:
        state = await self._io(self._journal.load_state)
        if state is None:
            logger.info("no journal state; starting fresh")
            return
        try:
            self._processor.restore(state)
            saved_at = state.get(SAVED_AT)
            self._saved_at = float(saved_at) if isinstance(saved_at, int | float) else math.nan
            base, changes = await self._io(self._journal.load_replay)
            try:
                if base or changes:  # else none yet, or the state carried it (older journal)
                    self._processor.replay.load(base, changes)
            except ValueError as exc:
                raise JournalError(f"replay memory does not parse: {exc}") from exc
            base, changes = await self._io(self._journal.load_contacts)
            try:
                if base or changes:  # else none yet, or the state carried them (version 1)
                    self._processor.load_contacts(base, changes)
            except ValueError as exc:
                raise JournalError(f"contact state does not parse: {exc}") from exc
        except JournalError as exc:
            logger.error("cannot resume from the journal state (%s); starting empty", exc)
            self._saved_at = None
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
                await asyncio.sleep(CHECKPOINT_RETRY_S)
            await asyncio.sleep(0)

    def _handle(self, item: Received) -> None:
        self._processor.handle(item.topic, item.payload)
        self._pending.append(item)
        self._waiting.set()

    async def _checkpoint_loop(self) -> None:
        """Group commit: checkpoint as soon as messages wait, at most once per interval.

        While a checkpoint is written the next batch gathers, so under load batches grow
        instead of checkpoints queueing up (and the consumer forces one at
        ``checkpoint_max_messages``).
        """
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await self._waiting.wait()
            # A large state makes the snapshot (taken on this loop) costly: space the
            # checkpoints so that snapshots take at most CHECKPOINT_LOOP_SHARE of the loop.
            spacing = max(
                self._settings.checkpoint_interval_s,
                self._snapshot_s * (1 - CHECKPOINT_LOOP_SHARE) / CHECKPOINT_LOOP_SHARE,
            )
            await asyncio.sleep(max(0.0, last + spacing - loop.time()))
            self._waiting.clear()
            last = loop.time()
            if not await self._checkpoint():
                # the messages still wait: try again, but not 50 times a second
                await asyncio.sleep(CHECKPOINT_RETRY_S)
                self._waiting.set()

    async def _checkpoint(self, *, force: bool = False) -> bool:
        """Journal new meetings and the state, then acknowledge what the state covers."""
        async with self._checkpoint_lock:
            self._unsaved.extend(self._processor.take_meetings())
            has_foreign = self._foreign is not None and self._foreign.has_pending
            if not (force or self._pending or self._unsaved or has_foreign):
                return True
            meetings = list(self._unsaved)
            started = time.perf_counter()
            state = self._processor.snapshot()
            state[SAVED_AT] = self._clock.now()  # the tap-id memory runs in uptime only
            self._replay_unsaved += self._processor.replay.take_changes()
            replay = bytes(self._replay_unsaved)
            is_base = self._replay_base_due or self._journal.replay_needs_base()
            base = self._processor.replay.dump() if is_base else None
            contacts = self._take_contacts()
            self._snapshot_s = time.perf_counter() - started
            self._unsaved_checkins.extend(self._processor.take_checkins())
            checkins = list(self._unsaved_checkins)
            foreign = self._foreign.take() if self._foreign is not None else []
            acks, self._pending = self._pending, []
            self._in_flight = len(acks)
            try:
                if checkins:
                    await self._io(partial(self._checkins.put, checkins))
                fresh = await self._io(
                    partial(self._journal_checkpoint, meetings, state, replay, base, contacts)
                )
            except JournalError as exc:
                self._pending[:0] = acks
                self._in_flight = 0
                self._give_back_foreign(foreign)
                logger.error("checkpoint failed: %s; %d messages wait", exc, len(self._pending))
                return False
            except asyncio.CancelledError:
                # The write goes on in the journal thread; the final checkpoint follows it.
                self._pending[:0] = acks
                self._in_flight = 0
                self._give_back_foreign(foreign)
                raise
            del self._unsaved[: len(meetings)]
            del self._unsaved_checkins[: len(checkins)]
            if checkins:
                self._checkin_forwarder.wake()
            del self._replay_unsaved[: len(replay)]
            self._replay_base_due = self._replay_base_due and base is None
            del self._contacts_unsaved[: len(contacts[0])]
            self._contacts_base_due = self._contacts_base_due and contacts[1] is None
            self._lag.journaled(fresh, self._clock.now())
            self._in_flight = 0
            acked = self._subscriber.ack(acks)
            if self._foreign is not None and foreign:
                self._foreign.ack(foreign)
            logger.debug("checkpoint meetings=%d acked=%d", len(meetings), acked)
            if meetings:
                self._forwarder.wake()
            return True

    def _take_contacts(self) -> tuple[bytes, Callable[[], bytes] | None]:
        """The contact changes not yet durable, and if a base is due what dumps one.

        A base is a copy of the whole contact state, dumped in the journal thread: the
        copy takes a sixth of the dump's time on the event loop (54-77 ms at 10,000 badges).
        """
        self._contacts_unsaved += self._processor.take_contact_changes()
        is_base = self._contacts_base_due or self._journal.contacts_needs_base()
        return bytes(self._contacts_unsaved), self._processor.freeze_contacts() if is_base else None

    async def _publish_relayed(self, topic: str, payload: bytes) -> None:
        """Publish a message the BLE relay received; return once the broker has it."""
        if not await self._subscriber.publish_confirmed(topic, payload, RELAY_PUBLISH_TIMEOUT_S):
            raise RelayError(f"the broker did not acknowledge a relayed message on {topic}")

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
        gauges["unacknowledged"] = float(len(self._pending) + self._in_flight)
        gauges["checkins_unforwarded"] = float(
            self._checkins.unforwarded() + len(self._unsaved_checkins)
        )
        gauges["forward_lag_seconds"] = self._lag.seconds(
            self._journal.unforwarded(), self._clock.now()
        )
        if self._settings.ble:
            gauges["ble_badges_in_zone"] = float(len(self._presence.present()))
        gauges["mqtt_connected"] = float(self._subscriber.is_connected)
        gauges["mqtt_subscribed"] = float(self._subscriber.is_subscribed)
        gauges["mqtt_protocol_errors"] = float(self._subscriber.protocol_errors)
        if self._foreign is not None:
            gauges["mqtt_foreign_subscribed"] = float(self._foreign.is_subscribed)
        return GatewayStatus(
            gateway=self._gateway,
            state=state,
            t=self._clock.now(),
            counters=dict(self._counters),
            gauges=gauges,
        )

    def _decide_foreign(self, topic: str, payload: bytes) -> None:
        self._processor.handle_foreign_checkin(topic, payload)

    def _wake_checkpoint(self) -> None:
        self._waiting.set()

    def _give_back_foreign(self, items: list[Received]) -> None:
        if self._foreign is not None and items:
            self._foreign.give_back(items)

    async def _replay_checkins(self) -> None:
        """Re-apply journaled check-ins the state may lack (killed between the two writes)."""
        readers = self._processor.readers
        if readers is None:
            return
        if not (self._saved_at is not None and math.isnan(self._saved_at)):
            readers.resume(self._saved_at)  # (a state of an older journal: as before)
        if not self._checkins.unforwarded():
            return
        records = await self._io(partial(self._checkins.peek_batch, self._checkins.unforwarded()))
        applied = readers.replay_records(records)
        if applied:
            logger.warning("%d journaled check-ins were newer than the state; applied", applied)

    async def _load_nonces(self) -> None:
        """Add the reader nonces saved at issue time (newer than the last checkpoint)."""
        readers = self._processor.readers
        if readers is None:
            return
        try:
            readers.merge_nonces(await self._io(self._checkins.load_nonces))
        except (JournalError, TypeError, ValueError) as exc:
            logger.error("saved reader nonces unusable (%s); answers to them will be unknown", exc)

    async def _save_nonces(self, readers: Readers) -> bool:
        try:
            await self._io(partial(self._checkins.save_nonces, readers.nonce_state()))
        except JournalError as exc:
            logger.error("cannot save reader nonces: %s; not publishing them yet", exc)
            return False
        return True

    async def _reader_loop(self) -> None:
        """Issue reader nonces; publish each (retained) only once it is saved.

        A published nonce is then never forgotten by a crash, so a badge's answer to it is
        judged against it after a restart too.
        """
        readers = self._processor.readers
        if readers is None:
            return
        while not self._subscriber.is_subscribed:
            await asyncio.sleep(_READY_POLL_S)
        unpublished: list[ReaderNonce] = list(readers.current())
        tick = min(1.0, self._settings.reader_nonce_interval_s)
        while True:
            unpublished.extend(readers.rotate())
            if unpublished and await self._save_nonces(readers):
                for nonce in unpublished:
                    topic = reader_nonce_topic(nonce.event, nonce.reader)
                    self._subscriber.publish(topic, encode_json(nonce), retain=True)
                logger.debug("published %d reader nonces", len(unpublished))
                unpublished.clear()
            await asyncio.sleep(tick)

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


async def _raise_when_set(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stopped
