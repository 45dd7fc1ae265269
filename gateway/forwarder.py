"""The forwarder: drains a journal to the server, peek -> send -> ack, with backoff.

One forwarder drains the meeting journal, another the check-in journal (same code).
A batch is acknowledged in the journal only after the server answered 2xx with an
IngestResult. Duplicates are fine (ingest is idempotent on the id); items the
server rejects are logged at WARNING and acknowledged too, since sending them again
cannot succeed. Failures are retried forever with exponential backoff and full jitter:
outages (5xx, connect errors, timeouts) at WARNING, refusals a human must fix (401,
other 4xx) at ERROR.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import Generic, Protocol, TypeVar, cast

from gateway.backoff import Backoff
from gateway.errors import ForwardError, JournalError
from gateway.uplink import Uplink
from protocol.api import IngestResult

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Identified(Protocol):
    """Anything forwarded: a meeting or a check-in record, known by its id."""

    @property
    def id(self) -> str:
        """The id the server de-duplicates on."""
        ...


ItemT = TypeVar("ItemT", bound=Identified)
ItemT_co = TypeVar("ItemT_co", bound=Identified, covariant=True)
Send = Callable[[Sequence[ItemT]], Awaitable[IngestResult]]


class Outbox(Protocol[ItemT_co]):
    """What the forwarder drains: the meeting journal or the check-in journal."""

    def peek_batch(self, n: int) -> Sequence[ItemT_co]:
        """Up to ``n`` items waiting, oldest first."""
        ...

    def ack(self, ids: Iterable[str]) -> int:
        """Mark items forwarded."""
        ...


class Forwarder(Generic[ItemT]):
    """Sends journaled items (meetings by default) to the server in batches.

    Args:
        journal: where the items wait.
        uplink: the server API.
        counters: shared counters (forwarded, forward_rejected, forward_retries, each
            prefixed by ``counter_prefix``).
        batch: most items per request.
        interval_s: how long to idle when the journal is empty (``wake()`` cuts it short).
        backoff: retry delays.
        executor: where journal calls run (a single worker keeps them ordered); None
            runs them on the default executor.
        sleep: how to wait between retries (tests inject a recorder).
        send: how a batch is posted; ``uplink.post_meetings`` if None.
        counter_prefix: prefix of the counter names (``"checkins."`` for check-ins).
        what: what the items are, for log lines.
    """

    def __init__(
        self,
        journal: Outbox[ItemT],
        uplink: Uplink,
        counters: Counter[str],
        *,
        batch: int,
        interval_s: float,
        backoff: Backoff,
        executor: Executor | None = None,
        sleep: Sleep = asyncio.sleep,
        send: Send[ItemT] | None = None,
        counter_prefix: str = "",
        what: str = "meeting",
    ) -> None:
        self._journal = journal
        self._send: Send[ItemT] = send or cast(Send[ItemT], uplink.post_meetings)
        self._counters = counters
        self._prefix = counter_prefix
        self._what = what
        names = (
            f"{counter_prefix}{n}" for n in ("forwarded", "forward_rejected", "forward_retries")
        )
        self._counters.update({name: 0 for name in names if name not in counters})
        self._batch = batch
        self._interval = interval_s
        self._backoff = backoff
        self._executor = executor
        self._sleep = sleep
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell the forwarder new items were journaled."""
        self._wake.set()

    async def _io(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def forward_once(self) -> int:
        """Send one batch if there is one; return how many items were acknowledged.

        Raises:
            ForwardError: the server did not take the batch (nothing was acknowledged).
            JournalError: the acknowledgement could not be written.
        """
        batch = list(await self._io(partial(self._journal.peek_batch, self._batch)))
        if not batch:
            return 0
        result = await self._send(batch)
        ids = {item.id for item in batch}
        rejected = [r for r in result.rejected if r.id in ids]
        for rejection in rejected:
            logger.warning(
                "server rejected %s id=%s code=%s: %.200s",
                self._what,
                rejection.id,
                rejection.code,
                rejection.detail,
            )
        ids_sent = [item.id for item in batch]
        await self._io(partial(self._acknowledge, ids_sent, len(rejected)))
        logger.info(
            "forwarded %ss n=%d accepted=%d duplicates=%d rejected=%d",
            self._what,
            len(batch),
            result.accepted,
            result.duplicates,
            len(rejected),
        )
        return len(batch)

    def _acknowledge(self, ids: list[str], rejected: int) -> None:
        """In the journal thread: count, then ack (the journal's count drops before its
        files are written), so that no status shows the journal drained before the
        counters say forwarded. A failed ack takes the count back."""
        forwarded, refused = f"{self._prefix}forwarded", f"{self._prefix}forward_rejected"
        self._counters[forwarded] += len(ids) - rejected
        self._counters[refused] += rejected
        try:
            self._journal.ack(ids)
        except JournalError:
            self._counters[forwarded] -= len(ids) - rejected
            self._counters[refused] -= rejected
            raise

    async def run(self) -> None:
        """Forward until cancelled."""
        while True:
            self._wake.clear()
            try:
                sent = await self.forward_once()
            except ForwardError as exc:
                self._counters[f"{self._prefix}forward_retries"] += 1
                delay = self._backoff.next_delay()
                if exc.retryable:
                    logger.warning("forwarding failed: %s; retry in %.1f s", exc, delay)
                else:
                    logger.error(
                        "server refused the batch: %s; a human must act; retry in %.1f s",
                        exc,
                        delay,
                    )
                await self._sleep(delay)
                continue
            except JournalError as exc:
                delay = self._backoff.next_delay()
                logger.error("journal acknowledgement failed: %s; retry in %.1f s", exc, delay)
                await self._sleep(delay)
                continue
            self._backoff.reset()
            if sent == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                except TimeoutError:
                    pass
