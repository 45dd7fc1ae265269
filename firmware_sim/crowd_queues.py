"""Queues and lunch: registration and coffee queues, the buffet, tables.

On arrival people queue at a registration desk, at a break some queue for coffee and
at lunch everyone queues at a buffet: one behind the other, facing the desk (never
face-to-face). Served at lunch, people eat at a table, in a small group facing its
centre, or stand. ``CrowdQueues`` is the layer of ``Crowd`` that does it.
"""

from __future__ import annotations

import math

from firmware_sim.crowd_groups import CrowdGroups
from firmware_sim.crowd_state import Place


class CrowdQueues(CrowdGroups):
    """Queues of a crowd, served desk by desk, and lunch at the buffets and tables."""

    def _queue_for_lunch(self) -> None:
        """Hungry people mingling join a buffet queue with room, their own room first."""
        for person in sorted(self.hungry):
            if self.place[person] != Place.MINGLING:
                continue
            here = self.groups[self.group_of[person]].room
            rooms = [here] + [r for r in self.venue.mingle_rooms if r != here]
            for room in rooms:
                line = self.queues.get(room)
                if line is not None and len(line) < len(self.venue.rooms[room].queue):
                    self._leave_group(person)
                    line.append(person)
                    self.place[person] = Place.QUEUEING
                    break

    def _eat(self, person: int, room: int) -> None:
        """Someone served lunch sits at a table with room or stands alone with their plate."""
        self.hungry.discard(person)
        self.fed.add(person)
        if self.rng.random() >= self.params.table_share:
            self.place[person] = Place.MINGLING
            self._stand_alone(person, room)
            return
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if group.table and group.room == room and len(group.members) < self.params.table_size:
                group.members.append(person)
                self.group_of[person] = gid
                self.place[person] = Place.EATING
                return
        self._stand_alone(person, room)
        table = self.groups[self.group_of[person]]
        table.table = True
        table.radius = self.params.table_radius_m
        table.phase = self.rng.uniform(0.0, 2 * math.pi)
        self.place[person] = Place.EATING

    def _end_lunch(self) -> None:
        """Lunch is over: the tables empty and everyone still hungry gives up."""
        self.hungry.clear()
        for person in range(self.size):
            if self.place[person] == Place.EATING:
                room = self.groups[self.group_of[person]].room
                self._leave_group(person)
                self.place[person] = Place.MINGLING
                self._stand_alone(person, room)

    def _settle(self, person: int, room: int, coffee: bool) -> None:
        """Someone arriving in a mingling room queues for coffee or stands alone."""
        if not (coffee and self._join_queue(person, room)):
            self.place[person] = Place.MINGLING
            self._stand_alone(person, room)

    def _join_queue(self, person: int, room: int) -> bool:
        """Join the end of ``room``'s queue if queues are on and it has a free place."""
        line = self.queues.get(room)
        if not self.params.queues or line is None:
            return False
        if len(line) >= len(self.venue.rooms[room].queue):
            return False
        line.append(person)
        self.place[person] = Place.QUEUEING
        return True

    def _serve_queues(self, w: int) -> None:
        """The desks serve the heads of the queues; the served start mingling in the room."""
        desks = max(1.0, self.params.queue_desks_per_100 * self.size / 100)
        service = self.params.lunch_service_s if self.hungry else self.params.queue_service_s
        rate = desks * self.params.window_seconds / service
        served = math.floor(rate * (w + 1)) - math.floor(rate * w)
        for room in sorted(self.queues):
            line = self.queues[room]
            done, line[:] = line[:served], line[served:]
            for person in done:
                if person in self.hungry:
                    self._eat(person, room)
                    continue
                self.place[person] = Place.MINGLING
                self._stand_alone(person, room)
