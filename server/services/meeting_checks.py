"""Which meetings of a gateway's batch ingest refuses, and why (``server.services.ingest``).

Codes, in the order they are checked: wrong_event, wrong_gateway, self_meeting,
unknown_badge, invalid_id, invalid_interval, malformed (windows, RSSI, zone) and
invalid_interval again for a ``last_seen`` past 9999-12-31. ``rejection_for`` gives one
meeting's first failing check; ``all_valid`` answers for a whole batch at once (the
common case: a gateway's batch has nothing to refuse), with the same conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from protocol.api import Meeting
from server.models import NAME_LEN
from server.services.checkins import MAX_EVENT_SECONDS
from server.services.meeting_ids import IdCheck

Reason = tuple[str, str]
"""``(code, detail)`` of a refused meeting."""
MAX_WINDOWS = 2**40
RSSI_MIN, RSSI_MAX = -127, 20
INVALID_ID: Reason = (
    "invalid_id",
    "id is not protocol.ids.meeting_id of the meeting's kind, event, badges and first_seen",
)


def rejection_for(
    meeting: Meeting, event_id: str, gateway_id: str, known: AbstractSet[str], ids: IdCheck
) -> Reason | None:
    """Return why the gateway ``gateway_id`` of ``event_id`` may not store the meeting, or None.

    Args:
        known: badge ids registered for the event (at least the meeting's, if they are).
        ids: the id check of ``event_id``.
    """
    if meeting.event != event_id:
        return (
            "wrong_event",
            f"meeting is for event {meeting.event}, gateway belongs to {event_id}",
        )
    if meeting.gateway != gateway_id:
        return "wrong_gateway", f"meeting names gateway {meeting.gateway}, sent by {gateway_id}"
    if meeting.badge_a == meeting.badge_b:
        return "self_meeting", f"badge {meeting.badge_a} cannot meet itself"
    for badge in (meeting.badge_a, meeting.badge_b):
        if badge not in known:
            return "unknown_badge", f"badge {badge} is not registered for event {event_id}"
    if not ids.is_valid(meeting):
        return INVALID_ID
    if meeting.last_seen < meeting.first_seen:
        return "invalid_interval", "last_seen is before first_seen"
    if meeting.contact_seconds > meeting.last_seen - meeting.first_seen:
        return "invalid_interval", "contact_seconds exceeds last_seen - first_seen"
    if meeting.windows > MAX_WINDOWS:
        return "malformed", f"windows must be at most {MAX_WINDOWS}"
    if meeting.rssi_median_dbm is not None and not RSSI_MIN <= meeting.rssi_median_dbm <= RSSI_MAX:
        return "malformed", f"rssi_median_dbm must be within {RSSI_MIN}..{RSSI_MAX}"
    if len(meeting.zone) > NAME_LEN:
        return "malformed", f"zone is longer than {NAME_LEN} characters"
    if "\x00" in meeting.zone:
        return "malformed", "zone cannot contain NUL characters"
    if meeting.last_seen > MAX_EVENT_SECONDS:
        return "invalid_interval", "last_seen is after 9999-12-31"
    return None


def all_valid(
    meetings: Sequence[Meeting],
    event_id: str,
    gateway_id: str,
    known: AbstractSet[str],
    ids: IdCheck,
) -> bool:
    """Return whether ``rejection_for`` is None for every meeting of the batch.

    The same conditions, a batch at a time: one pass for the per-meeting comparisons, the
    zones and RSSI values checked once per distinct value, then the ids in one loop
    (``IdCheck.all_valid``). For 500 freshly decoded meetings: ~0.48 ms of CPU, of which
    the ids' SHA-256 ~0.35, against ~0.76 for 500 calls of ``rejection_for``. A batch with
    anything to refuse is then judged meeting by meeting.
    """
    if not all(
        m.event == event_id
        and m.gateway == gateway_id
        and m.badge_a != m.badge_b
        and m.badge_a in known
        and m.badge_b in known
        and m.first_seen <= m.last_seen
        and m.contact_seconds <= m.last_seen - m.first_seen
        and m.windows <= MAX_WINDOWS
        and m.last_seen <= MAX_EVENT_SECONDS
        for m in meetings
    ):
        return False
    rssis = {m.rssi_median_dbm for m in meetings}
    if not all(rssi is None or RSSI_MIN <= rssi <= RSSI_MAX for rssi in rssis):
        return False
    zones = {m.zone for m in meetings}
    if not all(len(zone) <= NAME_LEN and "\x00" not in zone for zone in zones):
        return False
    return ids.all_valid(meetings)
