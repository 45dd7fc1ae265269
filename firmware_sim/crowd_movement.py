"""Movement by the agenda: arriving, taking seats, leaving the halls, walks, going home.

Between the mingling rooms and the halls people walk through the corridor (for a
window, or along a path with ``CrowdParams(walking=True)``: firmware_sim/walking.py).
``CrowdMovement`` is the layer of ``Crowd`` that moves them.
"""

from __future__ import annotations

import logging

from firmware_sim.crowd_queues import CrowdQueues
from firmware_sim.crowd_state import Place
from firmware_sim.venue import Points
from firmware_sim.walking import Point

logger = logging.getLogger(__name__)


class CrowdMovement(CrowdQueues):
    """Moves people between rooms, halls and the corridor as the agenda says."""

    def _arrive(self, w: int) -> None:
        for person, when in enumerate(self.arrival):
            if when == w and self.place[person] == Place.ABSENT:
                room = self.rng.choice(self.venue.mingle_rooms)
                if not self._join_queue(person, room):  # registration
                    self.place[person] = Place.MINGLING
                    self._stand_alone(person, room)

    def _seat_audience(self) -> None:
        mingling = [p for p in range(self.size) if self.place[p] == Place.MINGLING]
        audience = self.rng.sample(mingling, round(len(mingling) * self.params.seated_share))
        halls = self.venue.halls
        per_hall: dict[int, list[int]] = {h: [] for h in halls}
        for k, person in enumerate(audience):
            per_hall[halls[k % len(halls)]].append(person)
        for hall, people in per_hall.items():
            seats = self.rng.sample(range(len(self.venue.rooms[hall].seats)), len(people))
            for person, seat in zip(people, seats, strict=True):
                origin = self._origin(person)
                self._leave_group(person)
                self.seat[person] = (hall, seat)
                if self._has_corridor:
                    self.place[person] = Place.WALKING
                    self.walk_to[person] = (hall, seat, False)
                    self._start_walk(person, origin, hall, self.venue.rooms[hall].seats[seat])
                else:
                    self.place[person] = Place.SEATED
        logger.debug("session starts seated=%d", len(audience))

    def _release_audience(self, coffee: bool = True) -> None:
        """The audience walks to a mingling room; ``coffee``: some queue on arrival there."""
        share = self.params.coffee_share
        if self.hungry:
            share = 1.0
        elif not coffee:
            share = 0.0
        for person in range(self.size):
            # (someone still walking to their seat turns back)
            to_seat = (
                self.walker is not None
                and self.place[person] == Place.WALKING
                and self.walk_to[person][1] >= 0
            )
            if self.place[person] == Place.SEATED or to_seat:
                origin = self._origin(person)
                self.seat[person] = (-1, -1)
                room = self.rng.choice(self.venue.mingle_rooms)
                queue = self.params.queues and self.rng.random() < share
                if self._has_corridor:
                    self.place[person] = Place.WALKING
                    self.walk_to[person] = (room, -1, queue)
                    self._start_walk(person, origin, room, None)
                else:
                    self._settle(person, room, queue)

    def _origin(self, person: int) -> tuple[int, Point]:
        """Where ``person`` sets off from: their walk, the last frame, or their place."""
        seen = self._seen_at(person)
        if seen is not None:
            return seen
        if self.group_of[person] >= 0:
            group = self.groups[self.group_of[person]]
            x, y = self.venue.rooms[group.room].spots[group.spot]
            return group.room, (float(x), float(y))
        hall, seat = self.seat[person]
        x, y = self.venue.rooms[hall].seats[seat]
        return hall, (float(x), float(y))

    def _start_walk(
        self, person: int, origin: tuple[int, Point], room: int, dest: Points | None
    ) -> None:
        """``person`` walks from ``origin`` to ``dest`` in ``room`` (None: into the room)."""
        if self.walker is None:
            return
        end = None if dest is None else (float(dest[0]), float(dest[1]))
        self.walker.start(person, origin[0], origin[1], room, end)

    def _finish_walks(self) -> None:
        """Everyone whose walk has been shown to its end arrives."""
        walker = self.walker
        for person in sorted(self.walk_to):
            if walker is not None and person in walker.walks:
                if not walker.walks[person].arrived:
                    continue
            room, seat, coffee = self.walk_to.pop(person)
            if seat >= 0:
                self.place[person] = Place.SEATED
            else:
                self._settle(person, room, coffee)
            if walker is not None:
                walker.walks.pop(person, None)

    def _depart(self, person: int) -> None:
        """``person`` goes home."""
        if self.place[person] in (Place.MINGLING, Place.EATING):
            self._leave_group(person)
        for line in self.queues.values():
            if person in line:
                line.remove(person)
        self.walk_to.pop(person, None)
        if self.walker is not None:
            self.walker.forget(person)
        self.place[person] = Place.ABSENT
        self.seat[person] = (-1, -1)

    def _leave_venue(self) -> None:
        self.walk_to.clear()
        if self.walker is not None:
            self.walker.walks.clear()
            self.walker.approaches.clear()
        for line in self.queues.values():
            line.clear()
        for person in range(self.size):
            if self.place[person] in (Place.MINGLING, Place.EATING):
                self._leave_group(person)
            self.place[person] = Place.ABSENT
            self.seat[person] = (-1, -1)
