"""The crowd's indexed company seeking gives exactly what the plain scan gave (kept here).

``Crowd._seek_company`` (firmware_sim/crowd_groups.py) keeps the join weights of a
room's open groups in a Fenwick tree (``JoinWeights``, firmware_sim/join_weights.py)
and picks a lone partner through a view (``Without``) instead of rebuilding lists for
every seeker. ``ScanCrowd`` below is the crowd as it was
before, scanning every open group of the room per joiner; the frames must match
bit for bit, for any parameters.
"""

from __future__ import annotations

import bisect
import random

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmware_sim.crowd import Agenda, Crowd, CrowdParams
from firmware_sim.crowd_state import Group
from firmware_sim.frame import Frame
from firmware_sim.join_weights import JoinWeights, Without, discard_sorted
from firmware_sim.venue import build_venue


class ScanCrowd(Crowd):
    """The reference: company seeking and standing alone as written before indexing."""

    def _seek_company(self, w: int) -> None:
        max_group = self.params.max_group
        lone: dict[int, list[int]] = {}
        open_: dict[int, list[int]] = {}
        for gid in sorted(self.groups):
            g = self.groups[gid]
            if g.table:
                continue
            if len(g.members) == 1:
                lone.setdefault(g.room, []).append(g.members[0])
            elif len(g.members) < max_group:
                open_.setdefault(g.room, []).append(gid)
        for people in lone.values():
            people.sort()
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
            open_groups = open_.setdefault(mine.room, [])
            at = bisect.bisect_left(room_lone, person)
            others = room_lone[:at] + room_lone[at + 1 :]
            start_new = bool(others) and (
                not open_groups or self.rng.random() < self.params.new_group_share
            )
            if start_new:
                partner = self.rng.choice(others)
                self._leave_group(partner)
                mine.members.append(partner)
                self.group_of[partner] = mine_id
                self._start_conversation(mine, w)
                discard_sorted(room_lone, person)
                discard_sorted(room_lone, partner)
                if 2 < max_group:
                    bisect.insort(open_groups, mine_id)
            elif open_groups:
                weights = [(max_group - len(self.groups[g].members)) ** 2 for g in open_groups]
                target = self.rng.choices(open_groups, weights=weights)[0]
                self._leave_group(person)
                self.groups[target].members.append(person)
                self.group_of[person] = target
                discard_sorted(room_lone, person)
                if len(self.groups[target].members) >= max_group:
                    discard_sorted(open_groups, target)

    def _take_spot(self, person: int, room: int) -> None:
        candidates = [room] + [r for r in self.venue.mingle_rooms if r != room]
        for r in candidates:
            if self.free_spots[r]:
                spot = self.rng.choice(sorted(set(self.free_spots[r])))
                self.free_spots[r].remove(spot)
                gid = self.next_group
                self.next_group += 1
                self.groups[gid] = Group(room=r, spot=spot, members=[person])
                self.group_of[person] = gid
                return
        raise RuntimeError("no free spot")


def _frames(kind: type[Crowd], n: int, windows: int, seed: int, params: CrowdParams) -> list[Frame]:
    crowd = kind.create(
        build_venue(n, params.seated_share),
        Agenda.for_windows(windows),
        n,
        random.Random(seed),
        params,
    )
    return [crowd.step(w) for w in range(windows + 2)]


def _assert_same(a: list[Frame], b: list[Frame]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.positions, y.positions)
        assert np.array_equal(x.headings, y.headings)
        assert np.array_equal(x.rooms, y.rooms)
        assert x.groups == y.groups


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 160),
    windows=st.integers(1, 45),
    seed=st.integers(0, 2**32),
    max_group=st.integers(2, 7),
    seek=st.sampled_from([0.05, 0.3, 0.9, 1.0]),
    new_share=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    membership=st.sampled_from([60.0, 600.0, 1800.0]),
    walking=st.booleans(),
)
def test_indexed_seeking_matches_the_scan(
    n: int,
    windows: int,
    seed: int,
    max_group: int,
    seek: float,
    new_share: float,
    membership: float,
    walking: bool,
) -> None:
    params = CrowdParams(
        max_group=max_group,
        seek_probability=seek,
        new_group_share=new_share,
        membership_s=membership,
        walking=walking,
    )
    _assert_same(
        _frames(Crowd, n, windows, seed, params), _frames(ScanCrowd, n, windows, seed, params)
    )


def test_a_conference_day_matches_the_scan() -> None:
    params = CrowdParams()
    new, old = (_frames(kind, 150, 720, 3, params) for kind in (Crowd, ScanCrowd))
    _assert_same(new, old)
    assert any(len(f.groups) > 5 for f in new)  # there were groups to get wrong


class _Fixed(random.Random):
    """A generator whose ``random()`` returns the given value."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@settings(max_examples=200, deadline=None)
@example(weights=[3, 0, 1], updates=[], u=1.0 - 2.0**-53)  # u * total rounds up to the total
@given(
    weights=st.lists(st.integers(0, 40), min_size=1, max_size=40),
    updates=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 40)), max_size=10),
    u=st.one_of(
        st.floats(0.0, 1.0, exclude_max=True),
        st.sampled_from([0.0, 1.0 - 2.0**-53, 0.5, 1.0 - 2.0**-40]),
    ),
)
def test_join_weights_pick_what_random_choices_picks(
    weights: list[int], updates: list[tuple[int, int]], u: float
) -> None:
    keys = [3 * k + 1 for k in range(len(weights))]
    index = JoinWeights(keys, weights)
    current = list(weights)
    for at, weight in updates:
        if at < len(keys):
            index.set(keys[at], weight)
            current[at] = weight
    assert index.total == sum(current)
    if not index.total:
        return
    population = [key for key, weight in zip(keys, current, strict=True) if weight]
    positive = [weight for weight in current if weight]
    assert index.pick(u) == _Fixed(u).choices(population, weights=positive)[0]


@given(values=st.lists(st.integers(), max_size=30), skip=st.integers(0, 31), seed=st.integers())
def test_without_is_the_list_minus_one_item(values: list[int], skip: int, seed: int) -> None:
    view = Without(values, skip)
    expected = values[:skip] + values[skip + 1 :]
    assert list(view) == expected and len(view) == len(expected)
    assert view[1:4] == expected[1:4]
    if expected:
        assert random.Random(seed).choice(view) == random.Random(seed).choice(expected)
