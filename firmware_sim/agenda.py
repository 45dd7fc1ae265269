"""The agenda of an event: arrival and one session, or a conference day of phases.

Agendas shorter than ``DAY_MIN_WINDOWS`` windows are arrival mingling, one seated
session and a break; longer ones follow a conference day (``Agenda.day_of``): arrival,
sessions around coffee breaks, lunch and a farewell. ``firmware_sim.crowd`` moves the
crowd through it.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MIN_WINDOWS = 720
"""Agendas of at least this many windows (4 h at 20 s) follow the conference day."""

_DAY_SHAPE: tuple[tuple[str, float], ...] = (
    ("arrival", 0.0625),
    ("session", 0.1875),
    ("break", 0.0625),
    ("session", 0.1875),
    ("lunch", 0.125),
    ("session", 0.1875),
    ("break", 0.0625),
    ("session", 0.0875),
    ("leaving", 0.0375),
)
"""Phases of the conference day and their shares of the agenda (8 h: 30 min arrival,
90 min sessions, 30 min coffee breaks, 60 min lunch, 42 min last session, 18 min farewell)."""


@dataclass(frozen=True)
class Phase:
    """One phase of a day agenda: windows ``start`` to ``end - 1``.

    Attributes:
        kind: ``"arrival"``, ``"session"``, ``"break"``, ``"lunch"`` or ``"leaving"``.
        start: first window of the phase.
        end: first window after the phase.
    """

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Agenda:
    """Phases of the event in windows; from ``windows`` on, nobody is at the venue.

    A short agenda is arrival and mingling, one session and a break (``day`` empty); a
    day agenda lists its phases in ``day`` and ``session_start``/``session_end`` are
    those of its first session.

    Attributes:
        windows: windows in the agenda; from this window on, nobody is at the venue.
        arrival_windows: people arrive during the first ``arrival_windows`` windows.
        session_start: first window of the (first) seated session.
        session_end: first window after the (first) seated session.
        day: the phases of a day agenda, in order, or empty for the short agenda.
    """

    windows: int
    arrival_windows: int
    session_start: int
    session_end: int
    day: tuple[Phase, ...] = ()

    @classmethod
    def for_windows(cls, windows: int) -> Agenda:
        """The default agenda for ``windows`` windows.

        Below ``DAY_MIN_WINDOWS``: 25 % arrival mingling, 50 % session, 25 % break;
        attendees arrive during the first 10 % of the agenda (at least one window).
        From ``DAY_MIN_WINDOWS`` on: the conference day of ``_DAY_SHAPE``; attendees
        arrive during the first 80 % of the arrival phase.
        """
        if windows >= DAY_MIN_WINDOWS:
            return cls.day_of(windows)
        session_start = round(windows * 0.25)
        session_end = max(session_start, round(windows * 0.75))
        arrival = max(1, min(session_start, round(windows * 0.10)))
        return cls(windows, arrival, session_start, session_end)

    @classmethod
    def day_of(cls, windows: int) -> Agenda:
        """The conference day over ``windows`` windows (at least one per phase)."""
        if windows < len(_DAY_SHAPE):
            raise ValueError(f"a day agenda needs at least {len(_DAY_SHAPE)} windows")
        phases: list[Phase] = []
        start, share = 0, 0.0
        for k, (kind, part) in enumerate(_DAY_SHAPE):
            share += part
            left = len(_DAY_SHAPE) - k - 1
            end = windows if left == 0 else round(windows * share)
            end = min(max(end, start + 1), windows - left)
            phases.append(Phase(kind, start, end))
            start = end
        first = phases[0]
        arrival = max(1, round((first.end - first.start) * 0.8))
        session = phases[1]
        return cls(windows, arrival, session.start, session.end, tuple(phases))

    def phase_at(self, w: int) -> int:
        """Index in ``day`` of the phase window ``w`` belongs to (-1 outside a day agenda)."""
        for k, phase in enumerate(self.day):
            if phase.start <= w < phase.end:
                return k
        return -1
