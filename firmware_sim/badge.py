"""Badge firmware model: identity, keys, sequence counter, rotating EphIDs, signed messages."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import nacl.signing

from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.encoding import channel_of, encode_body, seal
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import (
    MAX_HEARD,
    BadgeMessage,
    BadgeStatus,
    CheckIn,
    Heard,
    SightingReport,
    TapHalf,
    TapTranscript,
)
from protocol.signing import BadgeKey, sign, signing_input
from protocol.topics import BadgeChannel, badge_topic

logger = logging.getLogger(__name__)

_MAC_DOMAIN = b"inperson/mac/v1\x00"
_EMPTY_HEARD = b"[]}"
_SEQ_MARK = 9_876_543_210_123
_START_MARK = 1_234_567_890_321


class Outgoing(NamedTuple):
    """One MQTT publish, ready to go: the badge's topic and the sealed payload."""

    topic: str
    payload: bytes


class Draft(NamedTuple):
    """A message encoded but not signed yet: ``seal_draft`` (or a ``Sealer``) signs it.

    Attributes:
        topic: the badge's topic on the message's channel.
        prefix: what the signature covers before the body (``signing_input(topic, b"")``).
        body: the JSON body.
    """

    topic: str
    prefix: bytes
    body: bytes


def seal_draft(signer: nacl.signing.SigningKey, draft: Draft) -> Outgoing:
    """Sign ``draft`` with ``signer``: the same bytes as ``protocol.encoding.seal``."""
    return Outgoing(draft.topic, signer.sign(draft.prefix + draft.body).signature + draft.body)


def strongest_first(heard: Iterable[Heard]) -> list[Heard]:
    """Order heard EphIDs strongest first and keep the ``MAX_HEARD`` a report may carry.

    Ties are broken by peak RSSI, then by sample count, then by EphID, so the order
    is deterministic.
    """
    ranked = sorted(heard, key=lambda h: (-h.rssi_median, -h.rssi_max, -h.count, h.ephid))
    return ranked[:MAX_HEARD]


@dataclass
class Badge:
    """One badge: what the server provisioned into it plus its running state.

    Build it with ``Badge.from_bundle``. Every message of any channel takes the next
    sequence number, so ``seq`` only ever grows.

    Attributes:
        event: event id the badge was provisioned for.
        badge: the badge's id.
        signer: Ed25519 signing key built from the bundle's seed.
        ephid_key: 32-byte key the rotating EphIDs are derived from.
        settings: the event's detection settings (window, EphID rotation).
        battery_start: battery level (percent) at the start of the simulation.
        drain_per_hour: percent of battery used per hour of event time.
        start_time: event time the badge was switched on.
        seq: the sequence number of the last message sent (0 before the first).
    """

    event: str
    badge: str
    signer: nacl.signing.SigningKey
    ephid_key: bytes
    settings: DetectionSettings
    battery_start: float = 100.0
    drain_per_hour: float = 3.0
    start_time: int = 0
    seq: int = 0
    _ephids: dict[int, bytes] = field(default_factory=dict, repr=False)
    _topics: dict[BadgeChannel, str] = field(default_factory=dict, repr=False)
    _prefixes: dict[BadgeChannel, bytes] = field(default_factory=dict, repr=False)
    _report_head: bytes = field(default=b"", repr=False)
    _report_route: tuple[str, bytes] = field(default=("", b""), repr=False)

    @classmethod
    def from_bundle(
        cls,
        bundle: ProvisioningBundle,
        *,
        start_time: int = 0,
        battery_start: float = 100.0,
        drain_per_hour: float = 3.0,
    ) -> Badge:
        """Build a badge from its provisioning bundle.

        Args:
            bundle: the bundle the server wrote into the badge.
            start_time: event time the badge is switched on (for its battery model).
            battery_start: battery percentage at ``start_time``.
            drain_per_hour: battery percentage used per hour.
        """
        return cls(
            event=bundle.event,
            badge=bundle.badge,
            signer=BadgeKey(bytes.fromhex(bundle.signing_seed)).signer(),
            ephid_key=bytes.fromhex(bundle.ephid_key),
            settings=bundle.settings,
            battery_start=battery_start,
            drain_per_hour=drain_per_hour,
            start_time=start_time,
        )

    def ephid(self, t: int) -> bytes:
        """Return the 16-byte EphID the badge broadcasts at event time ``t``."""
        epoch = epoch_of(t, self.settings.ephid_rotation_seconds)
        cached = self._ephids.get(epoch)
        if cached is None:
            if len(self._ephids) > 4:
                self._ephids.clear()
            cached = derive_ephid(self.ephid_key, self.event, epoch)
            self._ephids[epoch] = cached
        return cached

    def mac_address(self, t: int) -> str:
        """The BLE address the badge advertises from at event time ``t``.

        A random static address (top two bits 11) derived from the EphID key and the
        EphID epoch, so it changes exactly when the EphID does: a listener cannot link
        two epochs by the address either. Not on the MQTT wire; it documents the model.
        """
        epoch = epoch_of(t, self.settings.ephid_rotation_seconds)
        data = _MAC_DOMAIN + self.event.encode() + b"\x00" + epoch.to_bytes(8, "big")
        raw = bytearray(hmac.new(self.ephid_key, data, hashlib.sha256).digest()[:6])
        raw[0] |= 0xC0
        return ":".join(f"{b:02X}" for b in raw)

    def report(self, window_start: int, heard: Iterable[Heard]) -> Outgoing:
        """Seal the sighting report of the window starting at ``window_start``.

        Args:
            window_start: event time the window starts (a multiple of the window length).
            heard: every EphID heard in the window; the strongest ``MAX_HEARD`` are kept.
        """
        report = SightingReport(
            event=self.event,
            badge=self.badge,
            seq=self._next_seq(),
            window_start=window_start,
            window_len=self.settings.window_seconds,
            heard=strongest_first(heard),
        )
        return self._seal(report)

    def report_encoded(self, window_start: int, heard_json: bytes) -> Outgoing:
        """Seal a sighting report whose heard list is already JSON (``HeardEncoder``).

        The same bytes as ``report`` for the same entries; the caller guarantees they are
        strongest first and at most ``MAX_HEARD``, as ``strongest_first`` would leave them.

        Args:
            window_start: event time the window starts (a multiple of the window length).
            heard_json: the JSON array of ``Heard`` objects.
        """
        draft = self.report_draft(window_start, heard_json)
        return Outgoing(draft.topic, sign(self.signer, draft.topic, draft.body) + draft.body)

    def report_draft(self, window_start: int, heard_json: bytes) -> Draft:
        """The unsigned ``report_encoded`` (takes the next sequence number)."""
        head = self._report_head or self._make_report_head()
        topic, prefix = self._report_route
        self.seq += 1
        return Draft(topic, prefix, head % (self.seq, window_start) + heard_json + b"}")

    def _make_report_head(self) -> bytes:
        """A report body up to its heard list, with ``%d`` for the seq and the window start.

        Made from msgspec's encoding of a report with marker values (checked here, once
        per badge), so it stays what ``encode_body`` writes.
        """
        marked = SightingReport(
            event=self.event,
            badge=self.badge,
            seq=_SEQ_MARK,
            window_start=_START_MARK,
            window_len=self.settings.window_seconds,
            heard=[],
        )
        empty = encode_body(marked)
        if not empty.endswith(_EMPTY_HEARD):  # heard is the last field of a report
            raise RuntimeError("unexpected SightingReport encoding")
        head = empty[: -len(_EMPTY_HEARD)]
        seq, start = b'"seq":%d,' % _SEQ_MARK, b'"window_start":%d,' % _START_MARK
        if head.count(seq) != 1 or head.count(start) != 1 or head.find(seq) > head.find(start):
            raise RuntimeError("unexpected SightingReport encoding")
        template = (
            head.replace(b"%", b"%%")
            .replace(seq, b'"seq":%d,')
            .replace(start, b'"window_start":%d,')
        )
        if template % (_SEQ_MARK, _START_MARK) != head:
            raise RuntimeError("unexpected SightingReport encoding")
        self._report_head = template
        channel = BadgeChannel.REPORTS
        self._report_route = (self._topic(channel), self._prefix(channel))
        return template

    def tap(self, transcript: TapTranscript) -> Outgoing:
        """Seal this badge's half of an NFC tap.

        Raises:
            ValueError: the transcript does not name this badge.
        """
        return seal_draft(self.signer, self.tap_draft(transcript))

    def tap_draft(self, transcript: TapTranscript) -> Draft:
        """The unsigned ``tap`` (takes the next sequence number).

        Raises:
            ValueError: the transcript does not name this badge.
        """
        if self.badge not in (transcript.badge_a, transcript.badge_b):
            raise ValueError(f"badge={self.badge} is not part of the tap transcript")
        return self.draft(
            TapHalf(event=self.event, badge=self.badge, seq=self._next_seq(), transcript=transcript)
        )

    def checkin(
        self, reader: str, nonce: str, t: int, direction: Literal["entry", "exit"]
    ) -> Outgoing:
        """Seal the badge's answer to a check-in reader's nonce (an NFC tap at the reader).

        Args:
            reader: the reader's id.
            nonce: the 16-byte nonce the reader issued, hex.
            t: event time of the tap.
            direction: entering or leaving.
        """
        return seal_draft(self.signer, self.checkin_draft(reader, nonce, t, direction))

    def checkin_draft(
        self, reader: str, nonce: str, t: int, direction: Literal["entry", "exit"]
    ) -> Draft:
        """The unsigned ``checkin`` (takes the next sequence number)."""
        return self.draft(
            CheckIn(
                event=self.event,
                badge=self.badge,
                seq=self._next_seq(),
                reader=reader,
                nonce=nonce,
                t=t,
                direction=direction,
            )
        )

    def status(self, t: int, *, buffer_fill: int = 0, drops: int = 0) -> Outgoing:
        """Seal a status message for event time ``t`` (battery drains with time).

        Args:
            t: event time.
            buffer_fill: messages waiting in the offline buffer.
            drops: messages the offline buffer dropped since boot.
        """
        return seal_draft(self.signer, self.status_draft(t, buffer_fill=buffer_fill, drops=drops))

    def status_draft(self, t: int, *, buffer_fill: int = 0, drops: int = 0) -> Draft:
        """The unsigned ``status`` (takes the next sequence number)."""
        hours = max(0, t - self.start_time) / 3600
        battery = round(min(100.0, max(0.0, self.battery_start - self.drain_per_hour * hours)))
        status = BadgeStatus(
            event=self.event,
            badge=self.badge,
            seq=self._next_seq(),
            t=t,
            battery=battery,
            buffer_fill=buffer_fill,
            boot_count=1,
            drops=drops,
        )
        return self.draft(status)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _topic(self, channel: BadgeChannel) -> str:
        """The badge's topic on ``channel`` (built and checked once, then reused)."""
        topic = self._topics.get(channel)
        if topic is None:
            topic = self._topics[channel] = badge_topic(self.event, self.badge, channel)
        return topic

    def _prefix(self, channel: BadgeChannel) -> bytes:
        """What a signature on ``channel`` covers before the body (made once, then reused)."""
        prefix = self._prefixes.get(channel)
        if prefix is None:
            prefix = self._prefixes[channel] = signing_input(self._topic(channel), b"")
        return prefix

    def draft(self, message: BadgeMessage) -> Draft:
        """``message`` encoded for this badge's topic on its channel, not signed yet."""
        channel = channel_of(message)
        return Draft(self._topic(channel), self._prefix(channel), encode_body(message))

    def _seal(self, message: BadgeMessage) -> Outgoing:
        topic = self._topic(channel_of(message))
        logger.debug("sealed badge=%s seq=%d topic=%s", self.badge, message.seq, topic)
        return Outgoing(topic, seal(message, topic, self.signer))
