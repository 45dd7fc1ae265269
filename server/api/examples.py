"""Examples for the OpenAPI description of the protocol shapes and the downloads.

The protocol examples are built as ``protocol.api`` structs and converted to JSON values,
so they are valid by construction (``tests/unit/server/test_openapi_examples.py`` also
decodes them back).
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.api import (
    CheckInBatch,
    CheckInRecord,
    DetectionSettings,
    IngestRejection,
    IngestResult,
    Meeting,
    MeetingBatch,
    ProvisioningBundle,
    Registry,
    RegistryBadge,
)
from protocol.ids import checkin_id, meeting_id

_EVENT = "demo-2026"
_T = 1_780_563_600
_KEY = "5f" * 32
_EPHID = "a3" * 32

_MEETING = Meeting(
    id=meeting_id("proximity", _EVENT, "b0001", "b0002", _T),
    event=_EVENT,
    kind="proximity",
    badge_a="b0001",
    badge_b="b0002",
    first_seen=_T,
    last_seen=_T + 240,
    contact_seconds=240,
    windows=12,
    gateway="gw-hall",
    zone="main-hall",
    rssi_median_dbm=-61,
)
_NONCE = "44" * 16
_CHECKIN = CheckInRecord(
    id=checkin_id(_EVENT, "b0001", "door-1", _NONCE),
    event=_EVENT,
    badge="b0001",
    reader="door-1",
    zone="main-hall",
    direction="entry",
    t=_T + 30,
    received_at=_T + 31,
    outcome="accepted",
    gateway="gw-hall",
)
_STALE = CheckInRecord(
    id=checkin_id(_EVENT, "b0002", "door-1", "45" * 16),
    event=_EVENT,
    badge="b0002",
    reader="door-1",
    zone="main-hall",
    direction="entry",
    t=_T + 95,
    received_at=_T + 190,
    outcome="stale_nonce",
    detail="nonce expired 35 s before the answer arrived",
    gateway="gw-hall",
)

PROTOCOL_EXAMPLES: dict[str, Any] = {
    "MeetingBatch": MeetingBatch(meetings=[_MEETING]),
    "CheckInBatch": CheckInBatch(checkins=[_CHECKIN, _STALE]),
    "IngestResult": IngestResult(
        accepted=1,
        duplicates=1,
        rejected=[
            IngestRejection(
                id="0" * 32, code="unknown_badge", detail="badge b9999 is not registered"
            )
        ],
    ),
    "Registry": Registry(
        event=_EVENT,
        gateway="gw-hall",
        zone="main-hall",
        settings=DetectionSettings(),
        badges=[RegistryBadge(badge="b0001", public_key=_KEY, ephid_key=_EPHID)],
    ),
    "ProvisioningBundle": ProvisioningBundle(
        event=_EVENT,
        badge="b0001",
        signing_seed="9c" * 32,
        ephid_key=_EPHID,
        settings=DetectionSettings(),
    ),
}
"""One example struct per protocol component name."""


def protocol_example(name: str) -> Any:
    """Return the JSON value of a protocol component's example."""
    return msgspec.to_builtins(PROTOCOL_EXAMPLES[name])


DOWNLOAD_EXAMPLES: dict[str, Any] = {
    "csv": "name,company,title,email,phone,first_met,last_met,total_minutes,meetings,where,how\r\n"
    "Bob Byte,Byte Corp,,,,2026-06-04T09:00:00Z,2026-06-04T09:04:00Z,4.0,1,main-hall,proximity\r\n",
    "network.csv": "attendee_a,name_a,company_a,attendee_b,name_b,company_b,first_met,last_met,"
    "total_contact_seconds,proximity_seconds,meetings,taps\r\n"
    "1,Ada Lovelace,Analytical Engines,2,Bob Byte,Byte Corp,2026-06-04T09:00:00Z,"
    "2026-06-04T09:04:00Z,240,240,1,0\r\n",
    "vcf": "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob Byte\r\nN:Byte;Bob;;;\r\nORG:Byte Corp\r\n"
    "X-INPERSON-HOW:proximity\r\nEND:VCARD\r\n",
    "json": {
        "event": {"id": _EVENT, "name": "Demo 2026"},
        "attendee": {
            "name": "Ada Lovelace",
            "company": "Analytical Engines",
            "title": None,
            "email": "ada@example.org",
            "phone": None,
            "share_level": "full",
            "share_with": "met",
        },
        "connections": [
            {
                "name": "Bob Byte",
                "company": "Byte Corp",
                "first_met": "2026-06-04T09:00:00Z",
                "last_met": "2026-06-04T09:04:00Z",
                "total_contact_seconds": 240,
                "meetings": 1,
                "taps": 0,
                "where": ["main-hall"],
                "how": "proximity",
            }
        ],
    },
    "graphml": '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
    '<graph edgedefault="undirected"><node id="a1"/><node id="a2"/>'
    '<edge source="a1" target="a2"/></graph>\n</graphml>\n',
    "tij": "0 1 2\n20 1 2\n40 1 3\n",
}
"""An abridged example body of each download (keyed by format; ``network.csv`` separately)."""
