"""Messages badges publish on the bus: sighting reports, tap halves, check-ins, status.

Each is a frozen msgspec struct whose JSON form is the signed body of an
envelope (see ``protocol.encoding``). Field names are short but spelled out in
docs/protocol.md, which is the normative description.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from protocol.errors import TopicMismatch

Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Hex16 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=2**40)]
Dbm = Annotated[int, msgspec.Meta(ge=-127, le=20)]

MAX_HEARD = 64
"""Most EphIDs one report may list; a badge keeps the strongest ones."""


class _Message(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fields every badge message carries (``v``: 1, but 2 for ``SightingReport``)."""

    v: Literal[1] = 1
    event: Id
    badge: Id
    seq: Seq

    def check_topic(self, event: str, badge: str) -> None:
        """Raise ``TopicMismatch`` unless the body names the topic's event and badge."""
        if self.event != event or self.badge != badge:
            raise TopicMismatch(
                f"body names event={self.event} badge={self.badge}, "
                f"topic names event={event} badge={badge}"
            )


class Heard(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """One EphID heard during a window, with the window's RSSI statistics.

    On the wire an array, ``["<ephid>", rssi_median, rssi_max, count]`` (report schema
    version 2): about half the bytes of an object, for the ~20 entries of a report.
    """

    ephid: Hex16
    rssi_median: Dbm
    rssi_max: Dbm
    count: Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class SightingReport(_Message, frozen=True, kw_only=True):
    """What one badge heard in the window ``[window_start, window_start + window_len)``."""

    v: Literal[2] = 2  # type: ignore[assignment]  # the report's own schema version
    window_start: Seconds
    window_len: Annotated[int, msgspec.Meta(ge=1, le=3600)]
    heard: Annotated[list[Heard], msgspec.Meta(max_length=MAX_HEARD)]


class TapTranscript(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What both badges of an NFC tap agree on; ``badge_a`` sorts before ``badge_b``."""

    badge_a: Id
    badge_b: Id
    nonce_a: Hex16
    nonce_b: Hex16
    t: Seconds


class TapHalf(_Message, frozen=True, kw_only=True):
    """One badge's signed copy of a tap transcript. Two matching halves make a tap."""

    transcript: TapTranscript


class CheckIn(_Message, frozen=True, kw_only=True):
    """A badge's answer to a reader's nonce: entry or exit at that reader."""

    reader: Id
    nonce: Hex16
    t: Seconds
    direction: Literal["entry", "exit"]


class BadgeStatus(_Message, frozen=True, kw_only=True):
    """Periodic health of a badge."""

    t: Seconds
    battery: Annotated[int, msgspec.Meta(ge=0, le=100)]
    buffer_fill: Annotated[int, msgspec.Meta(ge=0)]
    boot_count: Annotated[int, msgspec.Meta(ge=0)]
    drops: Annotated[int, msgspec.Meta(ge=0)]


BadgeMessage = SightingReport | TapHalf | CheckIn | BadgeStatus
