"""The ``inperson`` command line: one command per component, plus the demo."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from inperson.broker import Broker, BrokerError
from inperson.logs import configure_logging
from inperson.terminal import progress_bar

if TYPE_CHECKING:
    from firmware_sim.config import SimSettings

app = typer.Typer(
    help="inperson: prove that people met in person at an event, and turn it into follow-up.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _overrides(**values: Any) -> dict[str, Any]:
    """Flags the user gave (not None), to override environment settings."""
    return {key: value for key, value in values.items() if value is not None}


@app.command()
def server(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [SERVER_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port [SERVER_PORT].")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL [SERVER_DATABASE_URL].")
    ] = None,
) -> None:
    """Run the server (FastAPI): organizer API, gateway ingest, exports. Docs at /docs."""
    import uvicorn

    from server.config import ServerSettings
    from server.main import create_app

    settings = ServerSettings(**_overrides(host=host, port=port, database_url=database_url))
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
    )


@app.command()
def gateway(
    broker_host: Annotated[str | None, typer.Option(help="[GATEWAY_BROKER_HOST]")] = None,
    broker_port: Annotated[int | None, typer.Option(help="[GATEWAY_BROKER_PORT]")] = None,
    server_url: Annotated[str | None, typer.Option(help="[GATEWAY_SERVER_URL]")] = None,
    journal_dir: Annotated[Path | None, typer.Option(help="[GATEWAY_JOURNAL_DIR]")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Prometheus /metrics port, 0 = off [GATEWAY_METRICS_PORT]."),
    ] = None,
    ble: Annotated[
        bool | None,
        typer.Option("--ble/--no-ble", help="Scan BLE badge advertisements [GATEWAY_BLE]."),
    ] = None,
) -> None:
    """Run a gateway: verify, pair, aggregate, journal and forward. Token in GATEWAY_TOKEN."""
    from gateway.ble import BleUnavailable
    from gateway.config import GatewaySettings
    from gateway.service import run_gateway

    settings = GatewaySettings(
        **_overrides(
            broker_host=broker_host,
            broker_port=broker_port,
            server_url=server_url,
            journal_dir=journal_dir,
            metrics_port=metrics_port,
            ble=ble,
        )
    )
    configure_logging(settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_gateway(settings, stop=stop)

    try:
        asyncio.run(main())
    except BleUnavailable as exc:
        console.print(f"[red]inperson gateway --ble: {exc.detail}[/red]")
        raise typer.Exit(2) from None


@app.command()
def sim(
    bundles_dir: Annotated[
        Path | None, typer.Option(help="Provisioning bundles [BADGE_BUNDLES_DIR].")
    ] = None,
    broker_host: Annotated[str | None, typer.Option(help="[BADGE_BROKER_HOST]")] = None,
    broker_port: Annotated[int | None, typer.Option(help="[BADGE_BROKER_PORT]")] = None,
    minutes: Annotated[
        float | None, typer.Option(help="Simulated agenda length [BADGE_MINUTES].")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per wall second, 0 = flat out [BADGE_SPEED]."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="[BADGE_SEED]")] = None,
    radio: Annotated[str | None, typer.Option(help="realistic or ideal [BADGE_RADIO].")] = None,
    publish_mode: Annotated[
        str | None,
        typer.Option(
            help="bridge (few shared connections) or per-badge (one MQTT connection per "
            "badge) [BADGE_PUBLISH_MODE]."
        ),
    ] = None,
    connections: Annotated[
        int | None, typer.Option(help="Shared connections in bridge mode [BADGE_CONNECTIONS].")
    ] = None,
    ground_truth: Annotated[Path | None, typer.Option(help="Write the ground truth here.")] = None,
    summary: Annotated[Path | None, typer.Option(help="Write the publishing summary here.")] = None,
    progress: Annotated[str, typer.Option(help="bar, jsonl (for programs) or none.")] = "bar",
) -> None:
    """Run the badge and crowd simulator, publishing signed reports to the broker."""
    from pydantic import ValidationError

    from firmware_sim.config import SimSettings
    from firmware_sim.errors import SimError

    try:
        settings = SimSettings(
            **_overrides(
                bundles_dir=bundles_dir,
                broker_host=broker_host,
                broker_port=broker_port,
                minutes=minutes,
                speed=speed,
                seed=seed,
                radio=radio,
                publish_mode=publish_mode,
                connections=connections,
                ground_truth_path=ground_truth,
                summary_path=summary,
            )
        )
    except ValidationError as exc:
        console.print(f"[red]inperson sim: invalid settings[/red]\n{exc}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    try:
        summary_json = _simulate(settings, progress)
    except SimError as exc:
        console.print(f"[red]inperson sim failed ({exc.code}): {exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print_json(summary_json)


def _simulate(settings: SimSettings, progress: str) -> str:
    """Run the simulation with the chosen progress display; returns the summary as JSON."""
    from firmware_sim.runner import run_simulation

    if progress == "jsonl":

        def report(done: int, total: int) -> None:
            sys.stdout.write(json.dumps({"done": done, "total": total}) + "\n")
            sys.stdout.flush()

        result = run_simulation(settings, progress=report)
    elif progress == "bar":
        with progress_bar(console) as bar:
            task = bar.add_task("simulating", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_simulation(settings, progress=advance)
    else:
        result = run_simulation(settings)
    return json.dumps(result.summary)


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1; 0 picks a free one.")] = 1883,
    data_dir: Annotated[Path, typer.Option(help="Config, persistence and log.")] = Path(
        "./broker-data"
    ),
) -> None:
    """Run a managed Mosquitto with inperson's generated config until interrupted."""
    configure_logging()
    running = Broker(data_dir, port=port or None)
    try:
        running.start()
    except BrokerError as exc:
        console.print(f"[red]broker: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"broker listening on {running.url}; config in {data_dir}/mosquitto.conf")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Working folder (replaced).")] = Path("./demo-out"),
    badges: Annotated[int, typer.Option(help="Number of attendees with badges.")] = 200,
    minutes: Annotated[float, typer.Option(help="Simulated event length.")] = 60.0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the crowd and radio.")] = 7,
    radio: Annotated[str, typer.Option(help="realistic or ideal.")] = "realistic",
    publish_mode: Annotated[
        str, typer.Option(help="bridge (4 shared MQTT connections) or per-badge.")
    ] = "bridge",
    summary_json: Annotated[Path | None, typer.Option(help="Also write the summary here.")] = None,
    serve: Annotated[bool, typer.Option(help="Keep the server running for /docs.")] = False,
) -> None:
    """Start broker, server, gateway and a simulated event; print what was verified."""
    from inperson.demo import DemoError, DemoOptions, run_demo

    configure_logging("WARNING")
    signal.signal(signal.SIGTERM, _interrupt)  # stop the children on SIGTERM as on Ctrl-C
    options = DemoOptions(
        out=out,
        badges=badges,
        minutes=minutes,
        speed=speed,
        seed=seed,
        radio=radio,
        publish_mode=publish_mode,
        summary_json=summary_json,
        serve=serve,
    )
    try:
        run_demo(options, console)
    except DemoError as exc:
        console.print(f"[red]demo failed: {exc}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def replay(
    trace: Annotated[Path, typer.Argument(help="SocioPatterns contact list, lines 't i j'.")],
    out: Annotated[Path, typer.Option(help="Working folder (replaced).")] = Path("./replay-out"),
    radio: Annotated[str, typer.Option(help="ideal or realistic.")] = "ideal",
    gap_tolerance: Annotated[
        int, typer.Option(help="Event gap tolerance, seconds (0: only consecutive windows).")
    ] = 0,
    min_meeting: Annotated[
        int | None, typer.Option(help="Event minimum meeting, seconds (default: one window).")
    ] = None,
    window: Annotated[int, typer.Option(help="The trace's window, seconds.")] = 20,
    speed: Annotated[float, typer.Option(help="Event seconds per wall second; 0 = flat out.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the realistic radio.")] = 7,
    rssi_threshold: Annotated[
        int | None, typer.Option(help="Event RSSI threshold, dBm (default: the protocol default).")
    ] = None,
    connections: Annotated[int, typer.Option(help="MQTT connections the badges share.")] = 1,
    radio_preset: Annotated[
        str, typer.Option(help="Realistic radio parameters: default or herald (docs/radio.md).")
    ] = "default",
) -> None:
    """Replay a real contact trace through broker, gateway and server; write edges and fidelity."""
    from inperson.demo import DemoError
    from inperson.replay import ReplayOptions, run_replay

    configure_logging("WARNING")
    signal.signal(signal.SIGTERM, _interrupt)
    if radio not in ("ideal", "realistic"):
        console.print(f"[red]--radio must be ideal or realistic, not {radio!r}[/red]")
        raise typer.Exit(2)
    if radio_preset not in ("default", "herald"):
        console.print(f"[red]--radio-preset must be default or herald, not {radio_preset!r}[/red]")
        raise typer.Exit(2)
    options = ReplayOptions(
        trace=trace,
        out=out,
        radio=radio,
        gap_tolerance_s=gap_tolerance,
        min_meeting_s=min_meeting,
        window_s=window,
        speed=speed,
        seed=seed,
        rssi_threshold_dbm=rssi_threshold,
        connections=connections,
        radio_preset=radio_preset,
    )
    try:
        result = run_replay(options, console)
    except DemoError as exc:
        console.print(f"[red]replay failed: {exc}[/red]")
        raise typer.Exit(1) from exc
    edges, events = result["edges"], result["events"]
    console.print(
        f"edges: precision {edges['precision']:.4f} recall {edges['recall']:.4f}; "
        f"meetings {events['meetings']:,} "
        f"(trace contact events {events['trace_contact_events']:,}); "
        f"contact time error {result['contact_time']['error_seconds']:+,} s; "
        f"wall {result['run']['wall_seconds']['total']} s"
    )
    console.print(f"wrote {out / 'edges.csv'}, {out / 'fidelity.json'} and {out / 'report.html'}")


@app.command()
def report(
    event: Annotated[str, typer.Argument(help="Event id.")],
    out: Annotated[Path, typer.Option(help="Where to write the HTML page.")] = Path(
        "./report.html"
    ),
    server_url: Annotated[
        str, typer.Option(envvar="INPERSON_SERVER_URL", help="The server's base URL.")
    ] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None,
        typer.Option(envvar="SERVER_ORGANIZER_TOKEN", help="Organizer token of the event."),
    ] = None,
    bucket: Annotated[
        int, typer.Option(min=20, max=86_400, help="Seconds per contacts-over-time bucket.")
    ] = 300,
) -> None:
    """Write an event's report: contacts over time, attendance, network, time together."""
    import httpx2

    from inperson.report import ReportError, collect, write_report

    if not token:
        console.print("[red]an organizer token is needed: --token or SERVER_ORGANIZER_TOKEN[/red]")
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{server_url.rstrip('/')}/api/v1"
    with httpx2.Client(base_url=base, headers=headers, timeout=60.0) as client:
        try:
            path = write_report(out, collect(client, event, bucket_seconds=bucket))
        except ReportError as exc:
            console.print(f"[red]report failed: {exc}[/red]")
            raise typer.Exit(1) from exc
    console.print(f"wrote {path} (open it in a browser)")


@app.command("protocol-vectors")
def protocol_vectors(
    out: Annotated[Path, typer.Argument(help="Where to write the JSON.")] = Path(
        "docs/protocol-vectors.json"
    ),
) -> None:
    """Write the protocol test vectors (docs/protocol-vectors.json)."""
    from inperson.vectors import build_vectors

    out.write_text(json.dumps(build_vectors(), indent=2) + "\n")
    console.print(f"wrote {out}")


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt so ``finally`` blocks stop child processes."""
    raise KeyboardInterrupt
