"""``inperson demo``: broker, server, gateway and a simulated event, end to end, then a summary."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import httpx2
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
from inperson.broker import Broker, BrokerError, free_port
from inperson.evaluation import Pair, pair, score, true_connections
from inperson.processes import Child, ChildError, wait_http
from inperson.report import Detection, ReportError, collect, write_report
from inperson.roster import make_roster
from protocol.api import CheckInOutcome, GatewayStatus
from protocol.encoding import decode_json
from protocol.errors import MalformedMessage
from protocol.topics import gateway_status_topic

EVENT = "demo-2026"
GATEWAY = "gw-main"
READER = "entrance"
"""The check-in reader the gateway runs and the simulated badges tap (firmware_sim's reader)."""


CHECKIN_OUTCOMES = frozenset(get_args(CheckInOutcome))


class DemoError(RuntimeError):
    """The demo could not complete; the message says where to look."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``inperson demo`` was asked to do."""

    out: Path
    badges: int = 200
    minutes: float = 60.0
    speed: float = 60.0
    seed: int = 7
    radio: str = "realistic"
    publish_mode: str = "bridge"
    summary_json: Path | None = None
    serve: bool = False
    drain_timeout_s: float = 120.0


class StatusWatcher:
    """Follows a gateway's retained status topic (a paho subscriber); keeps every status seen."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.topic = topic
        self.history: list[GatewayStatus] = []
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watch-{secrets.token_hex(4)}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._host, self._port = host, port

    def start(self) -> None:
        """Connect and subscribe in paho's background thread."""
        self._client.connect(self._host, self._port)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the background thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            status = decode_json(bytes(message.payload), GatewayStatus)
        except MalformedMessage:
            return
        with self._lock:
            self.history.append(status)

    def snapshot(self) -> GatewayStatus | None:
        """The latest status received, or None."""
        with self._lock:
            return self.history[-1] if self.history else None


def is_drained(status: GatewayStatus | None, sent: int) -> bool:
    """Whether the gateway has received ``sent`` messages, closed every pair and forwarded all."""
    return (
        status is not None
        and status.counters.get("received", 0) >= sent
        and status.gauges.get("open_pairs", 1) == 0
        and status.gauges.get("journal_unforwarded", 1) == 0
        and status.gauges.get("checkins_unforwarded", 0) == 0
    )


class Demo:
    """Owns the processes and the organizer's HTTP client for one demo run."""

    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.out = options.out.resolve()
        self.logs = self.out / "logs"
        self.organizer_token = secrets.token_urlsafe(24)
        self.broker = Broker(self.out / "broker")
        self.server_port = free_port()
        self.base = f"http://127.0.0.1:{self.server_port}"
        self.children: list[Child] = []
        self.badge_of_attendee: dict[str, str] = {}
        self.attendee_of_badge: dict[str, str] = {}
        self.names: dict[str, str] = {}

    # --- setup -----------------------------------------------------------------

    def start_infrastructure(self) -> None:
        if self.out.exists():
            shutil.rmtree(self.out)
        (self.out / "bundles").mkdir(parents=True)
        try:
            self.broker.start()
        except BrokerError as exc:
            raise DemoError(str(exc)) from exc
        server = Child(
            "server",
            ["server", "--port", str(self.server_port)],
            {
                "SERVER_DATABASE_URL": f"sqlite:///{self.out / 'server.sqlite3'}",
                "SERVER_ORGANIZER_TOKEN": self.organizer_token,
                "SERVER_LOG_LEVEL": "WARNING",
            },
            self.logs / "server.log",
        )
        self._spawn(server)
        wait_http(f"{self.base}/healthz", server)
        self.http = httpx2.Client(
            base_url=f"{self.base}/api/v1",
            headers={"Authorization": f"Bearer {self.organizer_token}"},
            timeout=30.0,
        )

    def provision(self) -> str:
        """Create the event, attendees, badges and the gateway; return the gateway token."""
        # The RSSI threshold is calibrated per badge model (design.md section 3): the
        # simulated badges' radio is the Herald-calibrated one (docs/fidelity.md).
        event = {
            "id": EVENT,
            "name": "inperson demo conference",
            "settings": {"rssi_threshold_dbm": CALIBRATED_RSSI_THRESHOLD_DBM},
        }
        self._call("POST", "/events", json=event)
        roster = make_roster(self.options.badges, self.options.seed)
        created = self._call("POST", f"/events/{EVENT}/attendees", json=roster)
        if created["errors"]:
            raise DemoError(f"attendee import reported errors: {created['errors'][:3]}")
        bundles = self._call("POST", f"/events/{EVENT}/badges", json={"all_unbadged": True})
        for bundle in bundles:
            (self.out / "bundles" / f"{bundle['badge']}.json").write_text(json.dumps(bundle))
        attendees = self._call("GET", f"/events/{EVENT}/attendees", params={"limit": 10_000})
        for attendee in attendees:
            key = str(attendee["id"])
            self.names[key] = attendee["name"]
            self.badge_of_attendee[key] = attendee["badge"]
            self.attendee_of_badge[attendee["badge"]] = key
        if len(self.badge_of_attendee) != len(bundles):
            raise DemoError(f"{len(bundles)} badges provisioned for {len(attendees)} attendees")
        registered = self._call(
            "POST",
            f"/events/{EVENT}/gateways",
            json={"id": GATEWAY, "name": "Main gateway", "zone": "Venue"},
        )
        return str(registered["token"])

    def start_gateway(self, token: str) -> None:
        gateway = Child(
            "gateway",
            ["gateway"],
            {
                "GATEWAY_BROKER_HOST": self.broker.host,
                "GATEWAY_BROKER_PORT": str(self.broker.port),
                "GATEWAY_SERVER_URL": self.base,
                "GATEWAY_TOKEN": token,
                "GATEWAY_CLIENT_ID": f"inperson-{GATEWAY}",
                "GATEWAY_JOURNAL_DIR": str(self.out / "journal"),
                "GATEWAY_READERS": f"{READER}=Venue",
                # one nonce per simulated minute at the default speed: a badge leaving
                # soon after it entered must not quote its entry's nonce (same tap id)
                "GATEWAY_READER_NONCE_INTERVAL_S": "1",
                "GATEWAY_READER_NONCE_MEMORY_S": "120",
                "GATEWAY_LOG_LEVEL": "WARNING",
            },
            self.logs / "gateway.log",
        )
        self._spawn(gateway)

    def wait_gateway_online(self, watcher: StatusWatcher, timeout: float = 30.0) -> None:
        """Wait for the gateway's first "online" status: it is sent once it has subscribed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in self.children:
                child.check_alive()
            status = watcher.snapshot()
            if status is not None and status.state == "online":
                return
            time.sleep(0.05)
        raise DemoError(f"the gateway did not come online within {timeout:.0f} s; log {self.logs}")

    # --- the event ---------------------------------------------------------------

    def run_simulation(self, watcher: StatusWatcher) -> dict[str, Any]:
        sim = Child(
            "simulator",
            [
                "sim",
                "--bundles-dir",
                str(self.out / "bundles"),
                "--broker-host",
                self.broker.host,
                "--broker-port",
                str(self.broker.port),
                "--minutes",
                str(self.options.minutes),
                "--speed",
                str(self.options.speed),
                "--seed",
                str(self.options.seed),
                "--radio",
                self.options.radio,
                "--publish-mode",
                self.options.publish_mode,
                "--ground-truth",
                str(self.out / "ground_truth.json"),
                "--summary",
                str(self.out / "sim_summary.json"),
                "--progress",
                "jsonl",
            ],
            {"BADGE_LOG_LEVEL": "WARNING", "BADGE_CHECKIN_NONCES": "reader"},
            self.logs / "simulator.log",
        )
        sim.start(stdout=subprocess.PIPE)
        self.children.append(sim)
        assert sim.process is not None and sim.process.stdout is not None
        with progress_bar(self.console) as bar:
            task = bar.add_task(f"simulating {self.options.minutes:.0f} min", total=None)
            for line in sim.process.stdout:
                try:
                    step = json.loads(line)
                except json.JSONDecodeError:
                    continue
                bar.update(task, completed=step["done"], total=step["total"])
        code = sim.stop(timeout=60)
        if code != 0:
            raise DemoError(f"simulator exited with {code}; log {sim.log}")
        summary: dict[str, Any] = json.loads((self.out / "sim_summary.json").read_text())
        self.drain(watcher, int(summary["messages_sent"]))
        return summary

    def drain(self, watcher: StatusWatcher, sent: int) -> None:
        """Wait until the gateway has received, closed and forwarded everything."""
        deadline = time.monotonic() + self.options.drain_timeout_s
        with progress_bar(self.console) as bar:
            task = bar.add_task("gateway verifying and forwarding", total=sent)
            while time.monotonic() < deadline:
                for child in self.children:
                    child.check_alive()
                status = watcher.snapshot()
                if status is not None:
                    bar.update(task, completed=min(status.counters.get("received", 0), sent))
                if is_drained(status, sent):
                    return
                time.sleep(0.2)
        raise DemoError(
            f"the gateway did not drain within {self.options.drain_timeout_s:.0f} s "
            f"(last status {watcher.snapshot()}); log {self.logs / 'gateway.log'}"
        )

    # --- results -----------------------------------------------------------------

    def fetch_connections(self) -> dict[str, list[dict[str, Any]]]:
        """Every attendee's connections, as the server links them."""
        return {
            attendee: self._call("GET", f"/events/{EVENT}/attendees/{attendee}/connections")
            for attendee in self.badge_of_attendee
        }

    def detected_connections(self, connections: dict[str, list[dict[str, Any]]]) -> set[Pair]:
        """The linked pairs, as badge pairs comparable with the ground truth."""
        return {
            pair(self.badge_of_attendee[attendee], self.badge_of_attendee[str(row["attendee"])])
            for attendee, rows in connections.items()
            for row in rows
        }

    def write_sample_export(self, connections: dict[str, list[dict[str, Any]]]) -> Path:
        """Download the export of the attendee with the most connections."""
        attendee = max(sorted(connections), key=lambda a: len(connections[a]))
        response = self.http.get(f"/events/{EVENT}/attendees/{attendee}/export.csv")
        response.raise_for_status()
        name = self.names[attendee].lower().replace(" ", "-")
        path = self.out / "exports" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.content)
        return path

    def summarize(
        self,
        sim_summary: dict[str, Any],
        status: GatewayStatus,
        connections: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        """The demo's figures, including precision and recall against the ground truth."""
        truth_file = json.loads((self.out / "ground_truth.json").read_text())
        settings = self._call("GET", f"/events/{EVENT}")["settings"]
        truth = true_connections(
            [tuple(c) for c in truth_file["contacts"]],
            [tuple(t) for t in truth_file["taps"]],
            int(truth_file["window_seconds"]),
            int(settings["link_threshold_seconds"]),
        )
        detected = self.detected_connections(connections)
        result = score(detected, truth)
        stats = self._call("GET", f"/events/{EVENT}/stats")
        counters = status.counters
        rejected = {
            key.removeprefix("rejected."): value
            for key, value in sorted(counters.items())
            if key.startswith("rejected.") and value
        }
        return {
            "badges": self.options.badges,
            "simulated_minutes": self.options.minutes,
            "radio": self.options.radio,
            "publish_mode": self.options.publish_mode,
            "reports_sent": int(sim_summary["reports_sent"]),
            "messages_sent": int(sim_summary["messages_sent"]),
            "taps_sent": int(sim_summary.get("taps_sent", 0)),
            "checkins_sent": int(sim_summary.get("checkins_sent", 0)),
            "checkins_skipped": int(sim_summary.get("checkins_skipped", 0)),
            "checkins": {
                key.removeprefix("checkins."): value
                for key, value in sorted(counters.items())
                if key.removeprefix("checkins.") in CHECKIN_OUTCOMES and value
            },
            "checkins_forwarded": counters.get("checkins.forwarded", 0),
            "messages_received": counters.get("received", 0),
            "reports_accepted": counters.get("accepted", 0),
            "duplicates": counters.get("duplicate", 0),
            "rejected": rejected,
            "rejected_total": sum(rejected.values()),
            "contact_windows": counters.get("contact_windows", 0),
            "true_contact_windows": len(truth_file["contacts"]),
            "meetings": int(stats["meetings"]),
            "taps": int(stats.get("taps", 0)),
            "connections": len(detected),
            "true_connections": len(truth),
            "precision": round(result.precision, 4),
            "recall": round(result.recall, 4),
        }

    # --- plumbing ------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        self.children.append(child)
        child.start()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx2.TransportError as exc:
            raise DemoError(f"{method} {path}: {exc}; log {self.logs / 'server.log'}") from exc
        if response.status_code >= 400:
            raise DemoError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json()

    def shutdown(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        self.broker.stop()
        if hasattr(self, "http"):
            self.http.close()


def progress_bar(console: Console) -> Progress:
    """The progress bar of the demo and the replay: description, bar, n/total, time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def print_summary(console: Console, summary: dict[str, Any], export: Path) -> None:
    """Show the figures as a table a person can read."""
    table = Table(title="inperson demo", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("badges", f"{summary['badges']}")
    table.add_row(
        "simulated time", f"{summary['simulated_minutes']:.0f} min ({summary['radio']} radio)"
    )
    table.add_row("reports sent", f"{summary['reports_sent']:,}")
    table.add_row("reports accepted", f"{summary['reports_accepted']:,}")
    table.add_row("duplicates (ignored)", f"{summary['duplicates']:,}")
    rejected = ", ".join(f"{k} {v:,}" for k, v in summary["rejected"].items()) or "none"
    table.add_row("rejected", f"{summary['rejected_total']:,} ({rejected})")
    table.add_row(
        "contact windows",
        f"{summary['contact_windows']:,} (truth {summary['true_contact_windows']:,})",
    )
    table.add_row("meetings", f"{summary['meetings']:,} (of which taps {summary['taps']:,})")
    outcomes = dict(summary["checkins"])
    accepted = outcomes.pop("accepted", 0)
    failed = ", ".join(f"{k} {v:,}" for k, v in outcomes.items()) or "none"
    table.add_row(
        "check-ins",
        f"{accepted:,} accepted, {sum(outcomes.values()):,} failed ({failed}); "
        f"{summary['checkins_skipped']:,} taps without a nonce",
    )
    table.add_row(
        "connections", f"{summary['connections']:,} (truth {summary['true_connections']:,})"
    )
    table.add_row("precision", f"{summary['precision']:.3f}")
    table.add_row("recall", f"{summary['recall']:.3f}")
    console.print(table)
    console.print(f"sample attendee export: [bold]{export}[/bold]")


def run_demo(options: DemoOptions, console: Console) -> dict[str, Any]:
    """Run the whole demo; always stops every process it started.

    Raises:
        DemoError: a component failed; the message names its log file.
    """
    demo = Demo(options, console)
    watcher: StatusWatcher | None = None
    try:
        started = time.monotonic()
        console.print(f"starting broker, server and gateway in {demo.out}")
        demo.start_infrastructure()
        token = demo.provision()
        watcher = StatusWatcher(
            demo.broker.host, demo.broker.port, gateway_status_topic(EVENT, GATEWAY)
        )
        watcher.start()
        demo.start_gateway(token)
        demo.wait_gateway_online(watcher)
        sim_summary = demo.run_simulation(watcher)
        status = watcher.snapshot()
        assert status is not None
        connections = demo.fetch_connections()
        summary = demo.summarize(sim_summary, status, connections)
        summary["wall_seconds"] = round(time.monotonic() - started, 1)
        export = demo.write_sample_export(connections)
        summary["sample_export"] = str(export)
        report = write_report(
            demo.out / "report.html",
            collect(demo.http, EVENT),
            Detection.from_summary(summary),
        )
        summary["report"] = str(report)
        print_summary(console, summary, export)
        console.print(f"event report (open in a browser): [bold]{report}[/bold]")
        if options.summary_json is not None:
            options.summary_json.write_text(json.dumps(summary, indent=2) + "\n")
            console.print(f"summary JSON: {options.summary_json}")
        if options.serve:
            console.print(
                f"server running at {demo.base}/docs "
                f"(organizer token {demo.organizer_token}); Ctrl-C stops"
            )
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return summary
    except (ChildError, ReportError) as exc:
        raise DemoError(str(exc)) from exc
    finally:
        if watcher is not None:
            watcher.stop()
        demo.shutdown()
