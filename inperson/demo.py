"""``inperson demo``: broker, server, gateway and a simulated event, end to end, then a summary."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import httpx2
from rich.console import Console

from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
from inperson.broker import Broker, BrokerError, free_port
from inperson.evaluation import Pair, pair, score, true_connections
from inperson.processes import Child, ChildError, wait_http
from inperson.report import Detection, ReportError, collect, write_report
from inperson.roster import make_roster
from inperson.terminal import print_summary, progress_bar
from inperson.watcher import StatusWatcher, is_drained
from protocol.api import CheckInOutcome, GatewayStatus
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
