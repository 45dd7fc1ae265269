"""MQTT topic names: templates, validation and parsing.

inperson/v1/{event}/badges/{badge}/{reports|taps|checkins|status}
inperson/v1/{event}/gateways/{gateway}/status
inperson/v1/{event}/readers/{reader}/nonce
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import MalformedMessage

PREFIX = "inperson/v1"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BadgeChannel(StrEnum):
    """The four things a badge publishes."""

    REPORTS = "reports"
    TAPS = "taps"
    CHECKINS = "checkins"
    STATUS = "status"


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid event, badge or gateway id.

    Ids are 1-64 characters of ``A-Z a-z 0-9 _ -`` so they never contain MQTT
    separators or wildcards.

    Raises:
        MalformedMessage: the id has other characters or a bad length.
    """
    if not isinstance(value, str) or not _ID.match(value):
        raise MalformedMessage(f"invalid {what}: {value!r:.80}")
    return value


@dataclass(frozen=True)
class BadgeTopic:
    """A parsed badge topic."""

    event: str
    badge: str
    channel: BadgeChannel

    def __str__(self) -> str:
        return f"{PREFIX}/{self.event}/badges/{self.badge}/{self.channel.value}"


def badge_topic(event: str, badge: str, channel: BadgeChannel) -> str:
    """Return the topic a badge publishes ``channel`` messages on."""
    return str(BadgeTopic(check_id(event, "event"), check_id(badge, "badge"), channel))


def gateway_status_topic(event: str, gateway: str) -> str:
    """Return the retained status topic of a gateway."""
    return f"{PREFIX}/{check_id(event, 'event')}/gateways/{check_id(gateway, 'gateway')}/status"


def badge_subscription(event: str) -> str:
    """Return the wildcard subscription covering every badge channel of an event."""
    return f"{PREFIX}/{check_id(event, 'event')}/badges/+/+"


def parse_badge_topic(topic: str) -> BadgeTopic:
    """Parse a badge topic.

    Raises:
        MalformedMessage: the topic is not a badge topic of protocol v1.
    """
    parts = topic.split("/")
    if len(parts) != 6 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[3] != "badges":
        raise MalformedMessage(f"not a badge topic: {topic!r:.120}")
    try:
        channel = BadgeChannel(parts[5])
    except ValueError:
        raise MalformedMessage(f"unknown badge channel: {parts[5]!r:.40}") from None
    return BadgeTopic(check_id(parts[2], "event"), check_id(parts[4], "badge"), channel)


def reader_nonce_topic(event: str, reader: str) -> str:
    """Return the retained topic where a check-in reader publishes its current nonce."""
    return f"{PREFIX}/{check_id(event, 'event')}/readers/{check_id(reader, 'reader')}/nonce"


def reader_nonce_subscription(event: str) -> str:
    """Return the wildcard subscription covering every reader nonce of an event."""
    return f"{PREFIX}/{check_id(event, 'event')}/readers/+/nonce"
