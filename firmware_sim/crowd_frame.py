"""The frame of a window: positions, headings and rooms of everyone, and the groups.

``CrowdFrame`` is the layer of ``Crowd`` that draws them: groups on their circles,
the audience in their seats, queues on their lines and walkers on their way.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_sim.crowd_movement import CrowdMovement
from firmware_sim.crowd_state import Place
from firmware_sim.frame import ABSENT, Floats, Frame, Ints
from firmware_sim.venue import Points


class CrowdFrame(CrowdMovement):
    """Draws where everyone is and which way they face, one frame per window."""

    def _frame(self) -> Frame:
        n = self.size
        positions = np.zeros((n, 2), dtype=np.float64)
        headings = np.zeros(n, dtype=np.float64)
        rooms = np.full(n, ABSENT, dtype=np.int64)
        jitter = math.radians(self.params.heading_jitter_deg)
        seat_jitter = math.radians(self.params.seat_jitter_deg)
        conversations: list[tuple[int, ...]] = []
        walker = self.walker
        on_the_way = set() if walker is None else walker.on_the_way()
        uniform = self.rng.uniform
        # Everyone in a group, in group order: person, x, y, heading, room (one assignment).
        who: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        faces: list[float] = []
        where: list[int] = []
        for gid in sorted(self.groups):
            group = self.groups[gid]
            centre = self.venue.rooms[group.room].spots[group.spot]
            cx, cy = centre.tolist()
            m = len(group.members)
            if m == 1 and not group.table:
                who.append(group.members[0])
                xs.append(cx)
                ys.append(cy)
                faces.append(uniform(-math.pi, math.pi))
                where.append(group.room)
                continue
            for k, person in enumerate(group.members):
                theta = group.phase + 2 * math.pi * k / m
                who.append(person)
                xs.append(cx + group.radius * math.cos(theta))
                ys.append(cy + group.radius * math.sin(theta))
                faces.append(theta + math.pi + uniform(-jitter, jitter))
                where.append(group.room)
            talking = [p for p in group.members if p not in on_the_way]
            if m > 1 and len(talking) > 1:  # (those still on their way are not talking yet)
                conversations.append(tuple(sorted(talking)))
        if who:
            positions[who, 0] = xs
            positions[who, 1] = ys
            headings[who] = faces
            rooms[who] = where
        self._place_audience(positions, headings, rooms, seat_jitter)
        self._place_queues(positions, headings, rooms)
        self._place_walkers(positions, headings, rooms)
        if walker is not None:
            for person in sorted(walker.approaches):
                shown = walker.show_approach(person)
                if shown is not None:
                    positions[person], headings[person], rooms[person] = shown
        return Frame(positions, headings, rooms, tuple(conversations))

    def _place_audience(
        self, positions: Points, headings: Floats, rooms: Ints, seat_jitter: float
    ) -> None:
        """Everyone seated on their seat, facing the stage within ``seat_jitter`` (radians).

        The jitters are drawn in person order, one per seated person, as a loop over the
        people would; the arrays are filled hall by hall.
        """
        seated = [p for p, place in enumerate(self.place) if place == Place.SEATED]
        if not seated:
            return
        uniform = self.rng.uniform
        jitters = np.array([uniform(-seat_jitter, seat_jitter) for _ in seated])
        people = np.array(seated, dtype=np.int64)
        halls = np.array([self.seat[p][0] for p in seated], dtype=np.int64)
        seats = np.array([self.seat[p][1] for p in seated], dtype=np.int64)
        for hall in np.unique(halls).tolist():
            here = halls == hall
            room = self.venue.rooms[hall]
            positions[people[here]] = room.seats[seats[here]]
            headings[people[here]] = room.stage_heading + jitters[here]
            rooms[people[here]] = hall

    def _place_queues(self, positions: Points, headings: Floats, rooms: Ints) -> None:
        """One behind the other on the room's queue line, facing its head (west)."""
        jitter = math.radians(self.params.queue_jitter_deg)
        for room_id in sorted(self.queues):
            places = self.venue.rooms[room_id].queue
            for k, person in enumerate(self.queues[room_id]):
                positions[person] = places[k]
                headings[person] = math.pi + self.rng.uniform(-jitter, jitter)
                rooms[person] = room_id

    def _place_walkers(self, positions: Points, headings: Floats, rooms: Ints) -> None:
        """Along their paths, one window further each frame, facing the way they go
        (``walking``), or on random free slots of the corridor, facing the room they
        walk to."""
        walker = self.walker
        if walker is not None:
            for person in sorted(self.walk_to):
                if person in walker.walks:
                    positions[person], headings[person], rooms[person] = walker.show(person)
            return
        corridor = self.venue.corridor
        if not self.walk_to or corridor is None:
            return
        slots = self.venue.rooms[corridor].spots
        jitter = math.radians(self.params.walk_jitter_deg)
        walkers = sorted(self.walk_to)
        chosen = self.rng.sample(range(len(slots)), min(len(walkers), len(slots)))
        for person, slot in zip(walkers, chosen, strict=False):
            target = self.venue.rooms[self.walk_to[person][0]]
            x, y = slots[slot]
            east = (target.x0 + target.x1) / 2 >= x
            headings[person] = (0.0 if east else math.pi) + self.rng.uniform(-jitter, jitter)
            positions[person] = (x, y)
            rooms[person] = corridor
