"""Recovery at start-up: the processor resumes from what the journal made durable.

The processor's state comes from the journal's state document and its replay and
contact logs; then the check-in records journaled after that state (a gateway killed
between the two writes of a checkpoint) are applied again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import partial
from typing import Any

from gateway.checkins import CheckInJournal
from gateway.checkpointing import SAVED_AT, Io
from gateway.errors import JournalError
from gateway.journal import Journal
from gateway.processor import Processor
from gateway.readers import Readers

logger = logging.getLogger(__name__)


async def resume(
    processor: Processor, journal: Journal, io: Io, fresh: Callable[[], Processor]
) -> tuple[Processor, float | None]:
    """Resume ``processor`` from the journal's state, or start empty if it is unusable.

    Args:
        processor: the new gateway's processor.
        journal: the journal (open).
        io: runs a call in the journal thread.
        fresh: builds an empty processor (after the counters were cleared).

    Returns:
        The processor to run (``processor``, or a ``fresh()`` one) and the wall time of
        the checkpoint resumed from: None if there was no usable state, NaN if the state
        lacks it.

    Raises:
        JournalError: the state could not be read at all.
    """
    state = await io(journal.load_state)
    if state is None:
        logger.info("no journal state; starting fresh")
        return processor, None
    try:
        saved_at = await restore_state(processor, state, journal, io)
    except JournalError as exc:
        logger.error("cannot resume from the journal state (%s); starting empty", exc)
        processor.counters.clear()
        return fresh(), None
    logger.info(
        "resumed from the journal: received=%d watermark=%s",
        processor.counters["received"],
        processor.watermark,
    )
    return processor, saved_at


async def restore_state(
    processor: Processor, state: dict[str, Any], journal: Journal, io: Io
) -> float:
    """Restore ``processor`` from a journaled state and the journal's replay and contact logs.

    Returns:
        The wall time the state was taken at (``SAVED_AT``); NaN if the state lacks it.

    Raises:
        JournalError: the state or a log does not fit (the processor is then unusable).
    """
    processor.restore(state)
    saved_at = state.get(SAVED_AT)
    base, changes = await io(journal.load_replay)
    try:
        if base or changes:  # else none yet, or the state carried it (older journal)
            processor.replay.load(base, changes)
    except ValueError as exc:
        raise JournalError(f"replay memory does not parse: {exc}") from exc
    base, changes = await io(journal.load_contacts)
    try:
        if base or changes:  # else none yet, or the state carried them (version 1)
            processor.load_contacts(base, changes)
    except ValueError as exc:
        raise JournalError(f"contact state does not parse: {exc}") from exc
    return float(saved_at) if isinstance(saved_at, int | float) else math.nan


async def replay_checkins(
    readers: Readers, saved_at: float | None, checkins: CheckInJournal, io: Io
) -> None:
    """Re-apply journaled check-ins the state may lack (killed between the two writes).

    Args:
        readers: the restored readers.
        saved_at: what ``restore_state`` returned; None if there was no usable state.
        checkins: the check-in journal.
        io: runs a call in the journal thread.
    """
    if not (saved_at is not None and math.isnan(saved_at)):
        readers.resume(saved_at)  # (a state of an older journal: as before)
    if not checkins.unforwarded():
        return
    records = await io(partial(checkins.peek_batch, checkins.unforwarded()))
    applied = readers.replay_records(records)
    if applied:
        logger.warning("%d journaled check-ins were newer than the state; applied", applied)
