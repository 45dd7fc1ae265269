"""``inperson replay TRACE``: a real contact trace through broker, server and gateway, then scored.

One attendee and badge per trace id (external id = the trace id). Broker, server and
gateway run as processes, exactly as in ``inperson demo`` (whose plumbing this reuses);
the badges are driven from this process (``firmware_sim.replay``) so that exactly the
trace's pairs are face to face in the trace's windows. The event's detection settings
(window = the trace's, gap tolerance, minimum meeting) are set when the event is
created; the gateway reads them from the registry. At the end the server's meetings
are mapped back to trace ids and trace time and written to ``OUT/edges.csv``, and the
comparison with the trace to ``OUT/fidelity.json``.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from firmware_sim.clock import SimClock
from firmware_sim.errors import SimError
from firmware_sim.fidelity import (
    EDGE_COLUMNS,
    DetectedMeeting,
    Edge,
    detected_edges,
    fidelity,
    trace_edges,
)
from firmware_sim.publisher import MqttPublisher
from firmware_sim.radio import HERALD_PARAMS, RadioParams
from firmware_sim.replay import (
    ReplayRadio,
    build_replay_radio,
    count_windows,
    plan_replay,
    publish_replay,
    replay_windows,
    trace_bundles,
)
from firmware_sim.trace import Trace, bystanders, load_trace
from inperson.demo import Demo, DemoError, DemoOptions
from inperson.processes import ChildError
from inperson.replay_page import write_replay_page
from inperson.terminal import progress_bar
from inperson.watcher import StatusWatcher
from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.encoding import decode_json
from protocol.errors import ProtocolError
from protocol.topics import gateway_status_topic

logger = logging.getLogger(__name__)

EVENT = "replay"
PAGE = 1000
"""Meetings per page when reading them back from the server (the API's maximum)."""
IMPORT_CHUNK = 5000


@dataclass(frozen=True)
class ReplayOptions:
    """What ``inperson replay`` was asked to do.

    Attributes:
        trace: the ``t i j`` file.
        out: working folder (replaced); edges.csv and fidelity.json land here.
        radio: ``ideal`` or ``realistic``.
        gap_tolerance_s: the event's gap tolerance (0: only consecutive windows merge).
        min_meeting_s: the event's minimum meeting; None = one window.
        window_s: the trace's window length.
        speed: event seconds per wall second; 0 = as fast as possible.
        seed: seed of the realistic radio.
        connections: MQTT connections the badges share; with one, the broker keeps the
            publishing order and no acknowledgement barriers are needed.
        start_time: event time the first trace window maps to (rounded up to a window).
        rssi_threshold_dbm: the event's RSSI threshold; None = the protocol default.
        radio_preset: parameters of the realistic radio: ``default`` (``RadioParams()``)
            or ``herald`` (``HERALD_PARAMS``, fitted on the Herald measurements).
        drain_timeout_s: how long to wait for the gateway to finish after publishing.
    """

    trace: Path
    out: Path
    radio: str = "ideal"
    gap_tolerance_s: int = 0
    min_meeting_s: int | None = None
    window_s: int = 20
    speed: float = 0.0
    seed: int = 7
    connections: int = 1
    start_time: int = 1780563600
    rssi_threshold_dbm: int | None = None
    radio_preset: str = "default"
    drain_timeout_s: float = 600.0

    def detection(self) -> dict[str, Any]:
        """The event's detection settings as sent to the server."""
        settings: dict[str, Any] = {
            "window_seconds": self.window_s,
            "gap_tolerance_seconds": self.gap_tolerance_s,
            "min_meeting_seconds": self.window_s
            if self.min_meeting_s is None
            else self.min_meeting_s,
        }
        if self.rssi_threshold_dbm is not None:
            settings["rssi_threshold_dbm"] = self.rssi_threshold_dbm
        return settings


class Replay(Demo):
    """The demo's processes and organizer client, provisioned for a trace instead of a roster."""

    def provision_trace(self, trace: Trace, options: ReplayOptions) -> tuple[str, dict[str, str]]:
        """Create the event, one attendee and badge per trace id, and the gateway.

        Returns:
            The gateway token, and trace id -> badge id.
        """
        self._call(
            "POST",
            "/events",
            json={
                "id": EVENT,
                "name": f"replay of {options.trace.name}"[:200],
                "settings": options.detection(),
            },
        )
        rows = [{"external_id": x, "name": f"Trace id {x}"} for x in trace.ids]
        for k in range(0, len(rows), IMPORT_CHUNK):
            chunk = rows[k : k + IMPORT_CHUNK]
            created = self._call("POST", f"/events/{EVENT}/attendees", json=chunk)
            if created["errors"]:
                raise DemoError(f"attendee import reported errors: {created['errors'][:3]}")
        bundles = self._call("POST", f"/events/{EVENT}/badges", json={"all_unbadged": True})
        self.bundles = [decode_json(json.dumps(b).encode(), ProvisioningBundle) for b in bundles]
        badge_of: dict[str, str] = {}
        offset = 0
        while True:
            page = self._call(
                "GET", f"/events/{EVENT}/attendees", params={"limit": 10_000, "offset": offset}
            )
            for attendee in page:
                badge_of[str(attendee["external_id"])] = str(attendee["badge"])
            if len(page) < 10_000:
                break
            offset += len(page)
        registered = self._call(
            "POST",
            f"/events/{EVENT}/gateways",
            json={"id": "gw-main", "name": "Replay gateway", "zone": "Venue"},
        )
        return str(registered["token"]), badge_of

    def fetch_meetings(self) -> list[dict[str, Any]]:
        """Every proximity meeting the server stored for the event."""
        meetings: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call(
                "GET",
                f"/events/{EVENT}/meetings",
                params={"kind": "proximity", "limit": PAGE, "offset": offset},
            )
            meetings.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= int(page["total"]):
                return meetings


def write_edges(path: Path, edges: list[Edge]) -> int:
    """Write ``edges.csv`` (``detected_edges`` of the meetings); returns the number of rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EDGE_COLUMNS)
        for e in edges:
            writer.writerow([e.i, e.j, e.contact_seconds, e.meetings, e.first_seen, e.last_seen])
    return len(edges)


def run_replay(options: ReplayOptions, console: Console) -> dict[str, Any]:
    """Replay a trace through the whole system; always stops every process it started.

    Returns:
        The fidelity object (also written to ``OUT/fidelity.json``).

    Raises:
        DemoError: the trace is unusable or a component failed; the message says where.
    """
    try:
        trace = load_trace(options.trace, options.window_s)
    except SimError as exc:
        raise DemoError(exc.detail) from exc
    for issue in trace.issues[:10]:
        detail = escape(f"line {issue.line}: {issue.reason}: {issue.text}")
        console.print(f"[yellow]{detail}[/yellow]")
    if trace.bad_lines:
        console.print(f"[yellow]skipped {trace.bad_lines} bad lines[/yellow]")
    run = Replay(DemoOptions(out=options.out, drain_timeout_s=options.drain_timeout_s), console)
    watcher: StatusWatcher | None = None
    try:
        started = time.monotonic()
        console.print(
            f"replaying {options.trace}: {trace.contacts:,} contacts, {len(trace.ids)} ids, "
            f"{len(trace.windows):,} windows ({options.radio} radio) in {run.out}"
        )
        run.start_infrastructure()
        token, badge_of = run.provision_trace(trace, options)
        watcher = StatusWatcher(
            run.broker.host, run.broker.port, gateway_status_topic(EVENT, "gw-main")
        )
        watcher.start()
        run.start_gateway(token)
        run.wait_gateway_online(watcher)
        ready = time.monotonic()
        radio = _radio(trace, options)
        sent, publish_s = _publish(run, trace, badge_of, options, radio)
        published = time.monotonic()
        run.drain(watcher, sent)
        drained = time.monotonic()
        rows = run.fetch_meetings()
        status = watcher.snapshot()
    except ChildError as exc:
        raise DemoError(str(exc)) from exc
    except SimError as exc:
        raise DemoError(f"{exc.code}: {exc.detail}") from exc
    finally:
        if watcher is not None:
            watcher.stop()
        run.shutdown()
    trace_of = {badge: x for x, badge in badge_of.items()}
    offset = plan_replay(trace, _settings(options), options.start_time).offset
    meetings = [
        DetectedMeeting(
            trace_of[row["badge_a"]],
            trace_of[row["badge_b"]],
            int(row["first_seen"]) - offset,
            int(row["last_seen"]) - offset,
            int(row["contact_seconds"]),
        )
        for row in rows
    ]
    found = detected_edges(meetings)
    write_edges(run.out / "edges.csv", found)
    standing = bystanders(trace, radio.presence_gap_seconds)
    result = fidelity(trace, meetings, options.gap_tolerance_s, standing)
    counters = status.counters if status is not None else {}
    result["run"] = {
        "trace": str(options.trace),
        "radio": options.radio,
        "radio_preset": options.radio_preset,
        "presence_gap_seconds": radio.presence_gap_seconds,
        "bystander_windows": sum(len(ids) for ids in standing.values()),
        "seed": options.seed,
        "settings": options.detection(),
        "time_offset": offset,
        "messages_sent": sent,
        "reports_accepted": counters.get("accepted", 0),
        "rejected": {k: v for k, v in sorted(counters.items()) if k.startswith("rejected.") and v},
        "contact_windows": counters.get("contact_windows", 0),
        "wall_seconds": {
            "setup": round(ready - started, 1),
            "publish": round(publish_s, 1),
            "drain_after_publish": round(drained - published, 1),
            "total": round(time.monotonic() - started, 1),
        },
    }
    (run.out / "fidelity.json").write_text(json.dumps(result, indent=2) + "\n")
    write_replay_page(run.out / "report.html", result, trace_edges(trace), found)
    return result


def _settings(options: ReplayOptions) -> DetectionSettings:
    try:
        return decode_json(json.dumps(options.detection()).encode(), DetectionSettings)
    except ProtocolError as exc:
        raise DemoError(f"invalid detection settings: {exc}") from exc


def _radio(trace: Trace, options: ReplayOptions) -> ReplayRadio:
    """The replay radio the options ask for."""
    params = HERALD_PARAMS if options.radio_preset == "herald" else RadioParams()
    return build_replay_radio(options.radio, len(trace.ids), options.seed, params)


def _publish(
    run: Replay,
    trace: Trace,
    badge_of: dict[str, str],
    options: ReplayOptions,
    radio: ReplayRadio,
) -> tuple[int, float]:
    """Drive the badges; returns (messages the broker acknowledged, wall seconds)."""
    settings = _settings(options)
    plan = plan_replay(trace, settings, options.start_time)
    bundles = trace_bundles(trace, run.bundles, badge_of)
    publisher = MqttPublisher(
        run.broker.host, run.broker.port, options.connections, client_prefix="inperson-replay"
    )
    publisher.start()
    clock = SimClock(options.speed)
    total = count_windows(trace, plan)
    started = time.monotonic()
    with progress_bar(run.console) as bar:
        task = bar.add_task("replaying windows", total=total)

        def advance(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        clock.start(plan.window_start(min(trace.windows)))
        stats = publish_replay(
            replay_windows(trace, bundles, plan, radio),
            publisher,
            window_seconds=settings.window_seconds,
            lateness_seconds=settings.allowed_lateness_seconds,
            clock=clock,
            total=total,
            progress=advance,
            barriers=options.connections > 1,
        )
    if stats.failures:
        raise DemoError(f"{stats.failures} messages were not acknowledged by the broker")
    return stats.acked_total, time.monotonic() - started
