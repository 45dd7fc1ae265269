"""The crowd: an agenda (arrival, sessions, breaks, lunch), conversation groups, queues.

Deterministic from the injected ``random.Random``. While mingling, people stand in
conversation groups of 2-5 on a small circle facing its centre, one group per
standing spot; groups form and dissolve, people leave and join, and some stand
alone facing random directions. During the session most people sit in rows in the
halls facing the stage (side by side and one behind the other: never face-to-face).
On arrival people queue at a registration desk, and at the break some queue for
coffee: one behind the other, facing the desk (never face-to-face). Between the
mingling rooms and the halls people walk through the corridor for a window, in
lanes, facing the way they go; with ``CrowdParams(walking=True)`` they walk along a path
instead (firmware_sim/walking.py): through their room's door, along the corridor and
through the other room's door, at their own pace, for as many windows as the way
takes, and people coming to a standing spot walk there too. Movement happens between
windows: ``Crowd.step`` returns one ``Frame`` per window.

Agendas longer than ``DAY_MIN_WINDOWS`` windows follow a conference day instead of
the single session: arrival, two morning sessions around a coffee break, lunch, two
afternoon sessions around another coffee break, and a farewell during which people
leave one by one. At lunch everyone queues at the buffet of a mingling room (one
behind the other, never face to face), then eats at a table, in a small group
facing its centre, or standing with the others.

The crowd is built in layers, one concept per module: ``crowd_state`` (the fields),
``crowd_groups`` (conversation groups), ``crowd_queues`` (queues and lunch),
``crowd_movement`` (arrival, sessions, walks), ``crowd_frame`` (the frame); this module
holds ``Crowd`` (creation and the agenda's steps) and re-exports the public names.
"""

from __future__ import annotations

import random

from firmware_sim.agenda import DAY_MIN_WINDOWS, Agenda, Phase
from firmware_sim.crowd_frame import CrowdFrame
from firmware_sim.crowd_params import CrowdParams
from firmware_sim.crowd_state import Place
from firmware_sim.frame import Frame
from firmware_sim.venue import Venue
from firmware_sim.walking import Walker, walking_rng

__all__ = ["DAY_MIN_WINDOWS", "Agenda", "Crowd", "CrowdParams", "Phase", "Place"]


class Crowd(CrowdFrame):
    """Moves ``n`` attendees through a venue, one window at a time.

    Build it with ``Crowd.create``; call ``step(w)`` for w = 0, 1, 2, ... in order.
    """

    @classmethod
    def create(
        cls, venue: Venue, agenda: Agenda, n: int, rng: random.Random, params: CrowdParams
    ) -> Crowd:
        """A crowd of ``n`` people who have not arrived yet; arrival windows come from ``rng``.

        Walking draws from its own generator, derived from ``rng`` (``walking_rng``).
        """
        walker = None
        if params.walking and params.corridors and venue.corridor is not None:
            jitter = params.walk_jitter_deg
            walker = Walker(venue, params.window_seconds, jitter, walking_rng(rng))
        arrival = [rng.randrange(agenda.arrival_windows) for _ in range(n)]
        free = {r: list(range(len(venue.rooms[r].spots))) for r in venue.mingle_rooms}
        queues: dict[int, list[int]] = {r: [] for r in venue.mingle_rooms}
        departure: list[int] = []
        if agenda.day:
            leaving = agenda.day[-1]
            departure = [rng.randrange(leaving.start, leaving.end) + 1 for _ in range(n)]
        return cls(
            venue=venue,
            agenda=agenda,
            rng=rng,
            params=params,
            arrival=arrival,
            place=[Place.ABSENT] * n,
            seat=[(-1, -1)] * n,
            group_of=[-1] * n,
            free_spots=free,
            queues=queues,
            departure=departure,
            walker=walker,
        )

    def step(self, w: int) -> Frame:
        """Move everyone to where they are during window ``w`` and return the frame."""
        if w >= self.agenda.windows:
            self._leave_venue()
        elif self.agenda.day:
            self._day_step(w)
        else:
            self._finish_walks()
            self._serve_queues(w)
            self._arrive(w)
            if w == self.agenda.session_start and self.agenda.session_end > w:
                self._seat_audience()
            if w == self.agenda.session_end:
                self._release_audience()
            self._dissolve_expired(w)
            self._drift_apart()
            self._seek_company(w)
        self.last_frame = self._frame()
        return self.last_frame

    def _day_step(self, w: int) -> None:
        """One window of a day agenda: phase changes, lunch, departures, then mingling."""
        self._finish_walks()
        self._serve_queues(w)
        self._arrive(w)
        k = self.agenda.phase_at(w)
        phase = self.agenda.day[k]
        if phase.start == w and k > 0:
            before = self.agenda.day[k - 1].kind
            if before == "lunch":
                self._end_lunch()
            if phase.kind == "session":
                self._seat_audience()
            elif phase.kind == "lunch":
                self._start_lunch()
            elif before == "session":
                self._release_audience(coffee=phase.kind == "break")
        if phase.kind == "lunch":
            self._queue_for_lunch()
        if phase.kind == "leaving":
            for person in range(self.size):
                if self.departure[person] == w and self.place[person] != Place.ABSENT:
                    self._depart(person)
        self._dissolve_expired(w)
        self._drift_apart()
        self._seek_company(w)

    def _start_lunch(self) -> None:
        """Everyone present gets hungry; the audience walks out to the buffets."""
        self.hungry = {p for p in range(self.size) if self.place[p] != Place.ABSENT}
        self._release_audience(coffee=True)
