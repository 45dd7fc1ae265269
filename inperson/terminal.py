"""What the commands show on the terminal: progress bars and the demo's summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


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
