"""Reader nonces on disk and on the wire: each is saved when issued, then published retained.

A published nonce is then never forgotten by a crash, so a badge's answer to it is
judged against it after a restart too; the saved nonces are loaded again at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from gateway.checkins import CheckInJournal
from gateway.checkpointing import Io
from gateway.errors import JournalError
from gateway.mqtt_client import MqttClient
from gateway.readers import Readers
from protocol.api import ReaderNonce
from protocol.encoding import encode_json
from protocol.topics import reader_nonce_topic

logger = logging.getLogger(__name__)


async def load_nonces(readers: Readers, checkins: CheckInJournal, io: Io) -> None:
    """Add the reader nonces saved at issue time (newer than the last checkpoint)."""
    try:
        readers.merge_nonces(await io(checkins.load_nonces))
    except (JournalError, TypeError, ValueError) as exc:
        logger.error("saved reader nonces unusable (%s); answers to them will be unknown", exc)


async def save_nonces(readers: Readers, checkins: CheckInJournal, io: Io) -> bool:
    """Save the nonces the readers remember; False (logged) if the journal failed."""
    try:
        await io(partial(checkins.save_nonces, readers.nonce_state()))
    except JournalError as exc:
        logger.error("cannot save reader nonces: %s; not publishing them yet", exc)
        return False
    return True


async def announce_nonces(
    readers: Readers,
    checkins: CheckInJournal,
    client: MqttClient,
    io: Io,
    interval_s: float,
) -> None:
    """Issue reader nonces; publish each (retained) only once it is saved. Runs forever.

    Args:
        readers: the readers issuing the nonces.
        checkins: the check-in journal the nonces are saved in.
        client: the MQTT client (subscribed) the nonces are published with.
        io: runs a call in the journal thread.
        interval_s: the nonce rotation interval (checked at least each second).
    """
    unpublished: list[ReaderNonce] = list(readers.current())
    tick = min(1.0, interval_s)
    while True:
        unpublished.extend(readers.rotate())
        if unpublished and await save_nonces(readers, checkins, io):
            for nonce in unpublished:
                topic = reader_nonce_topic(nonce.event, nonce.reader)
                client.publish(topic, encode_json(nonce), retain=True)
            logger.debug("published %d reader nonces", len(unpublished))
            unpublished.clear()
        await asyncio.sleep(tick)
