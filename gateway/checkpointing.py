"""Checkpoints: what makes the gateway's effects durable before the broker hears an ack.

A ``Checkpointer`` holds the messages received since the last checkpoint and everything
not yet journaled (meetings, check-in records, replay and contact change records), and
writes them in one go: check-in records into the check-in journal first, then meetings,
replay and contact changes and the processor's state into the journal (in the journal
thread), and only then acknowledges the messages to the broker and wakes the forwarders.
Its loop is a group commit: a checkpoint as soon as messages wait, at most once per
interval, spaced further when the state's snapshot grows costly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from gateway.checkins import CheckInJournal
from gateway.clock import Clock
from gateway.errors import JournalError
from gateway.foreign import ForeignCheckIns
from gateway.forwarder import Forwarder
from gateway.journal import Journal
from gateway.lag import ForwardLag
from gateway.mqtt_client import MqttClient, Received
from gateway.processor import Processor
from protocol.api import CheckInRecord, Meeting

logger = logging.getLogger(__name__)

T = TypeVar("T")

CHECKPOINT_LOOP_SHARE = 0.25
"""Most of the event loop's time that checkpoint snapshots may take (group commit spacing)."""
CHECKPOINT_RETRY_S = 1.0
SAVED_AT = "saved_at"
"""Field of the checkpointed state: the gateway's wall time when it was taken."""


class Io(Protocol):
    """Runs a call in the journal thread (one worker: calls run in submission order)."""

    def __call__(self, call: Callable[[], T]) -> Awaitable[T]: ...


class Checkpointer:
    """The gateway's group commit: journal its effects, then acknowledge the messages.

    Args:
        processor: returns the gateway's current processor (a failed resume replaces it).
        journal: meetings, the processor's state, replay and contact change records.
        checkins: the check-in journal (written before ``journal``).
        subscriber: the MQTT client whose messages a checkpoint acknowledges.
        foreign: other events' check-ins (acknowledged with the checkpoint), if taken.
        forwarder: woken when a checkpoint journaled meetings.
        checkin_forwarder: woken when a checkpoint journaled check-in records.
        lag: told how many new meetings each checkpoint journaled.
        clock: wall time (the state's ``saved_at``, the forward lag).
        io: runs a call in the journal thread.
        interval_s: the shortest time between two checkpoints of the loop.
    """

    def __init__(
        self,
        processor: Callable[[], Processor],
        journal: Journal,
        checkins: CheckInJournal,
        subscriber: MqttClient,
        foreign: ForeignCheckIns | None,
        forwarder: Forwarder[Meeting],
        checkin_forwarder: Forwarder[CheckInRecord],
        lag: ForwardLag,
        clock: Clock,
        io: Io,
        interval_s: float,
    ) -> None:
        self._processor = processor
        self._journal = journal
        self._checkins = checkins
        self._subscriber = subscriber
        self._foreign = foreign
        self._forwarder = forwarder
        self._checkin_forwarder = checkin_forwarder
        self._lag = lag
        self._clock = clock
        self._io = io
        self._interval_s = interval_s
        self._pending: list[Received] = []
        self._unsaved: list[Meeting] = []
        self._unsaved_checkins: list[CheckInRecord] = []
        self._replay_unsaved = bytearray()
        # the first checkpoint writes the whole replay memory as a new base, whatever the
        # journal held before (an older format, or files a failed resume did not use)
        self._replay_base_due = True
        self._contacts_unsaved = bytearray()  # the same for the contact state
        self._contacts_base_due = True
        self._waiting = asyncio.Event()
        self._snapshot_s = 0.0
        self._in_flight = 0  # messages of the checkpoint being written
        self._lock = asyncio.Lock()

    def add(self, item: Received) -> None:
        """Note a message the processor handled: acknowledged after the next checkpoint."""
        self._pending.append(item)
        self._waiting.set()

    def wake(self) -> None:
        """Let the loop checkpoint soon (something new waits besides messages)."""
        self._waiting.set()

    @property
    def waiting(self) -> int:
        """Messages handled since the last checkpoint began."""
        return len(self._pending)

    @property
    def unacknowledged(self) -> int:
        """Messages handled but not yet acknowledged (waiting or being checkpointed)."""
        return len(self._pending) + self._in_flight

    @property
    def unsaved_meetings(self) -> int:
        """Meetings taken from the processor but not yet journaled."""
        return len(self._unsaved)

    @property
    def unsaved_checkins(self) -> int:
        """Check-in records taken from the processor but not yet journaled."""
        return len(self._unsaved_checkins)

    async def run(self) -> None:
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
                self._interval_s,
                self._snapshot_s * (1 - CHECKPOINT_LOOP_SHARE) / CHECKPOINT_LOOP_SHARE,
            )
            await asyncio.sleep(max(0.0, last + spacing - loop.time()))
            self._waiting.clear()
            last = loop.time()
            if not await self.checkpoint():
                # the messages still wait: try again, but not 50 times a second
                await asyncio.sleep(CHECKPOINT_RETRY_S)
                self._waiting.set()

    async def checkpoint(self, *, force: bool = False) -> bool:
        """Journal new meetings and the state, then acknowledge what the state covers."""
        async with self._lock:
            processor = self._processor()
            self._unsaved.extend(processor.take_meetings())
            has_foreign = self._foreign is not None and self._foreign.has_pending
            if not (force or self._pending or self._unsaved or has_foreign):
                return True
            meetings = list(self._unsaved)
            started = time.perf_counter()
            state = processor.snapshot()
            state[SAVED_AT] = self._clock.now()  # the tap-id memory runs in uptime only
            self._replay_unsaved += processor.replay.take_changes()
            replay = bytes(self._replay_unsaved)
            is_base = self._replay_base_due or self._journal.replay_needs_base()
            base = processor.replay.dump() if is_base else None
            contacts = self.take_contacts()
            self._snapshot_s = time.perf_counter() - started
            self._unsaved_checkins.extend(processor.take_checkins())
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

    def take_contacts(self) -> tuple[bytes, Callable[[], bytes] | None]:
        """The contact changes not yet durable, and if a base is due what dumps one.

        A base is a copy of the whole contact state, dumped in the journal thread: the
        copy takes a sixth of the dump's time on the event loop (54-77 ms at 10,000 badges).
        """
        processor = self._processor()
        self._contacts_unsaved += processor.take_contact_changes()
        is_base = self._contacts_base_due or self._journal.contacts_needs_base()
        return bytes(self._contacts_unsaved), processor.freeze_contacts() if is_base else None

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

    def _give_back_foreign(self, items: list[Received]) -> None:
        if self._foreign is not None and items:
            self._foreign.give_back(items)
