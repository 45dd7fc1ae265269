"""Conversation groups: forming, joining, drifting apart, standing alone.

While mingling, people stand in groups of 2-5 on a small circle facing its centre, one
group per standing spot; groups form and dissolve, people leave and join, and some
stand alone. ``CrowdGroups`` is the layer of ``Crowd`` (firmware_sim/crowd.py) that
keeps them.
"""

from __future__ import annotations

import bisect
import math

from firmware_sim.crowd_state import CrowdState, Group
from firmware_sim.join_weights import JoinWeights, Without, discard_sorted


class CrowdGroups(CrowdState):
    """Group bookkeeping of a crowd: who stands with whom, at which spot."""

    def _dissolve_expired(self, w: int) -> None:
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if len(group.members) > 1 and group.end <= w and not group.table:
                for person in list(group.members[1:]):
                    self._walk_away(person, group.room)

    def _drift_apart(self) -> None:
        p_leave = self.params.window_seconds / self.params.membership_s
        for gid in sorted(self.groups):
            group = self.groups.get(gid)
            if group is None or len(group.members) < 2 or group.table:
                continue
            for person in list(group.members):
                if len(group.members) > 1 and self.rng.random() < p_leave:
                    self._walk_away(person, group.room)

    def _seek_company(self, w: int) -> None:
        # Per-room indexes kept up to date as people pair up, so a seeker costs about
        # log(groups in the room) instead of a scan of the room's groups: the lone
        # people (sorted list) and the open groups' join weights (a Fenwick tree over
        # the room's groups in id order). The draws and results are those of scanning
        # (tests/unit/firmware_sim/test_sim_crowd_speed.py keeps the scan as the
        # reference): the same lists in the same order, one ``random()`` per weighted
        # pick compared against the same integer prefix sums as ``Random.choices``.
        max_group = self.params.max_group
        lone: dict[int, list[int]] = {}
        candidates: dict[int, list[int]] = {}
        for gid in sorted(self.groups):
            g = self.groups[gid]
            if g.table:
                continue
            if len(g.members) == 1:  # a lone person's group may become an open pair
                lone.setdefault(g.room, []).append(g.members[0])
                candidates.setdefault(g.room, []).append(gid)
            elif len(g.members) < max_group:
                candidates.setdefault(g.room, []).append(gid)
        for people in lone.values():
            people.sort()
        weighted = {
            room: JoinWeights(gids, [self._join_weight(g) for g in gids])
            for room, gids in candidates.items()
        }
        loners = sorted(
            g.members[0] for g in self.groups.values() if len(g.members) == 1 and not g.table
        )
        self.rng.shuffle(loners)
        for person in loners:
            mine_id = self.group_of[person]
            mine = self.groups[mine_id]
            if len(mine.members) != 1 or self.rng.random() >= self.params.seek_probability:
                continue
            room_lone = lone.setdefault(mine.room, [])
            open_groups = weighted.get(mine.room)
            has_open = open_groups is not None and open_groups.total > 0
            others = Without(room_lone, bisect.bisect_left(room_lone, person))
            start_new = len(others) > 0 and (
                not has_open or self.rng.random() < self.params.new_group_share
            )
            if start_new:
                partner = self.rng.choice(others)
                self._leave_group(partner)
                mine.members.append(partner)
                self.group_of[partner] = mine_id
                self._start_conversation(mine, w)
                discard_sorted(room_lone, person)
                discard_sorted(room_lone, partner)
                if open_groups is not None:
                    open_groups.set(mine_id, self._join_weight(mine_id))
            elif has_open and open_groups is not None:
                # Joiners prefer small groups, so groups of five stay rare.
                target = open_groups.pick(self.rng.random())
                self._leave_group(person)
                self.groups[target].members.append(person)
                self.group_of[person] = target
                discard_sorted(room_lone, person)
                open_groups.set(target, self._join_weight(target))

    def _join_weight(self, gid: int) -> int:
        """Weight of an open group (2 to ``max_group - 1`` members) for a joiner, else 0."""
        size = len(self.groups[gid].members)
        if 1 < size < self.params.max_group:
            return (self.params.max_group - size) ** 2
        return 0

    def _start_conversation(self, group: Group, w: int) -> None:
        low, high = self.params.group_radius_m
        mean_windows = self.params.group_lifetime_s / self.params.window_seconds
        lifetime = max(1, round(self.rng.gammavariate(2.0, mean_windows / 2.0)))
        group.radius = self.rng.uniform(low, high)
        group.phase = self.rng.uniform(0.0, 2 * math.pi)
        group.end = w + lifetime

    def _walk_away(self, person: int, room: int) -> None:
        rooms = self.venue.mingle_rooms
        if len(rooms) > 1 and self.rng.random() < self.params.switch_room_share:
            room = self.rng.choice([r for r in rooms if r != room])
        self._leave_group(person)
        self._stand_alone(person, room)

    def _stand_alone(self, person: int, room: int) -> None:
        """``person`` stands alone at a free spot (walking there, with ``walking``)."""
        origin = self._seen_at(person) if self.walker is not None else None
        self._take_spot(person, room)
        if self.walker is not None and origin is not None:
            group = self.groups[self.group_of[person]]
            x, y = self.venue.rooms[group.room].spots[group.spot]
            self.walker.approach(person, origin[0], origin[1], group.room, (float(x), float(y)))

    def _take_spot(self, person: int, room: int) -> None:
        """A group of one for ``person`` at a free spot drawn in ``room`` (or another)."""
        candidates = [room] + [r for r in self.venue.mingle_rooms if r != room]
        for r in candidates:
            free = self.free_spots[r]  # kept sorted: the draw is over the sorted spots
            if free:
                spot = self.rng.choice(free)
                discard_sorted(free, spot)
                gid = self.next_group
                self.next_group += 1
                self.groups[gid] = Group(room=r, spot=spot, members=[person])
                self.group_of[person] = gid
                return
        raise RuntimeError("the venue has no free standing spot; build_venue sizes it for everyone")

    def _leave_group(self, person: int) -> None:
        gid = self.group_of[person]
        if gid < 0:
            return
        group = self.groups[gid]
        group.members.remove(person)
        self.group_of[person] = -1
        if self.walker is not None:
            self.walker.approaches.pop(person, None)
        if not group.members:
            bisect.insort(self.free_spots[group.room], group.spot)
            del self.groups[gid]
        elif len(group.members) == 1:
            group.end = math.inf
