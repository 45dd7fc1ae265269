"""Trace replay: badges driven so that exactly a trace's pairs are face to face in its windows.

Pure except ``publish_replay``. Trace time maps to event time by a constant offset, so
the window ``[t - window, t]`` of a trace line becomes the event window starting at
``t - window + offset``. The badges in contact during a window report in it, and so do
the radio's bystanders (``firmware_sim.trace.bystanders``: ids between two of their
contacts at most ``presence_gap_seconds`` apart; none for the ideal radio). Every other
badge stays silent, as the trace says nothing about it; windows without any contact are
skipped. After the last window every badge reports a short empty tail so the gateway's
event-time watermark closes every meeting.

Radios: ``ideal`` hears exactly the listed pairs, both directions, at -50 dBm.
``realistic`` places each connected group of the window's contact graph in a circle,
facing its centre, and each bystander alone, facing anywhere, on random slots of a
square grid a few metres apart in one hall, and lets ``RealisticRadio`` (path loss,
device offsets, noise, body shielding) decide what is heard.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from firmware_sim.badge import Badge, Outgoing
from firmware_sim.clock import SimClock
from firmware_sim.errors import BundleError, PublishError
from firmware_sim.frame import ABSENT, Frame, Ints
from firmware_sim.heard_rank import heard_lists
from firmware_sim.publisher import Publisher, PublishStats
from firmware_sim.radio import RadioParams, RealisticRadio, Reception
from firmware_sim.simulation import STATUS_INTERVAL_S
from firmware_sim.trace import Trace, bystanders
from firmware_sim.window_output import WindowOutput
from protocol.api import DetectionSettings, ProvisioningBundle

logger = logging.getLogger(__name__)

IDEAL_RSSI_DBM = -50
IDEAL_SAMPLES = 10
PRESENCE_GAP_S = 300
"""Bystanders of the realistic replay: a silence of up to 5 min between two of one's own
contacts counts as still at the venue, in the hall, talking to nobody. 80 % of the
silences of an SFHH participant are this short; longer ones look like sessions or
leaving (docs/fidelity.md measures 0 and 1,200 s too)."""


@dataclass(frozen=True)
class ReplayPlan:
    """How trace time maps to event time, and how long the closing tail is.

    Attributes:
        window_seconds: window length (the trace's resolution).
        offset: event time = trace time + offset.
        tail_windows: empty windows every badge reports after the last contact window.
    """

    window_seconds: int
    offset: int
    tail_windows: int

    def window_start(self, t: int) -> int:
        """Event-time start of the window a trace line at time ``t`` describes."""
        return t - self.window_seconds + self.offset

    def trace_time(self, event_time: int) -> int:
        """Trace time of an event time."""
        return event_time - self.offset


def plan_replay(trace: Trace, detection: DetectionSettings, start_time: int) -> ReplayPlan:
    """Map the trace's first window onto ``start_time`` rounded up to a window boundary.

    Raises:
        BundleError: the event's window differs from the trace's.
    """
    w = detection.window_seconds
    if w != trace.window_seconds:
        raise BundleError(f"event window {w} s differs from the trace's {trace.window_seconds} s")
    start = -(-start_time // w) * w
    first = min(trace.windows) - w
    reach = detection.gap_tolerance_seconds + detection.allowed_lateness_seconds + 2 * w
    return ReplayPlan(w, start - first, math.ceil(reach / w) + 2)


class ReplayRadio(Protocol):
    """Turns one window's listed contacts (badge index pairs) into what every badge heard."""

    @property
    def presence_gap_seconds(self) -> int:
        """Silence between one's contacts still counted as present (0: only contacts report)."""
        ...

    def hear(self, pairs: Ints, n: int, bystanders: Ints | None = None) -> Reception:
        """What every badge heard.

        Args:
            pairs: ``(m, 2)`` array of badge indices in contact.
            n: number of badges.
            bystanders: indices of badges present but in no listed contact.
        """
        ...


@dataclass(frozen=True)
class TraceIdealRadio:
    """Hears exactly the listed pairs, both directions, and nothing else."""

    rssi_dbm: int = IDEAL_RSSI_DBM
    samples: int = IDEAL_SAMPLES
    presence_gap_seconds: int = 0

    def hear(self, pairs: Ints, n: int, bystanders: Ints | None = None) -> Reception:
        """One strong reception per direction of every listed pair; bystanders hear nothing."""
        i, j = pairs[:, 0], pairs[:, 1]
        k = 2 * i.size
        return Reception(
            receiver=np.concatenate([i, j]),
            sender=np.concatenate([j, i]),
            median=np.full(k, self.rssi_dbm, dtype=np.int64),
            maximum=np.full(k, self.rssi_dbm, dtype=np.int64),
            count=np.full(k, self.samples, dtype=np.int64),
        )


@dataclass(frozen=True)
class GroupGeometry:
    """Where the realistic replay puts people in contact.

    Attributes:
        spacing_m: distance between the centres of neighbouring groups.
        person_arc_m: arc of the group circle per member (radius = members * arc / 2 pi).
        min_radius_m: smallest group circle (a pair stands 2 x this apart).
        jitter_m: spread of each person's position around their place on the circle.
        heading_jitter_deg: spread of headings around facing the group's centre.
    """

    spacing_m: float = 3.0
    person_arc_m: float = 0.7
    min_radius_m: float = 0.45
    jitter_m: float = 0.1
    heading_jitter_deg: float = 15.0


def components(pairs: Ints) -> list[list[int]]:
    """Connected components (sorted member lists, sorted) of the graph the pairs form."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in sorted(parent):
        groups.setdefault(find(x), []).append(x)
    return sorted(groups.values())


def place_groups(
    pairs: Ints,
    n: int,
    rng: np.random.Generator,
    geometry: GroupGeometry | None = None,
    bystanders: Ints | None = None,
) -> Frame:
    """A frame in which each contact group stands in a circle facing its centre.

    Every group and every bystander takes a random slot of a square grid with
    ``spacing_m`` between slots and about twice as many slots as takers, so neighbours
    are a few metres apart. A bystander stands alone near its slot (``jitter_m``) facing
    a uniformly random direction. Everyone else is absent. Without bystanders the draws
    are those of the groups alone.

    Raises:
        ValueError: a bystander is also in a listed pair, or listed twice.
    """
    g = geometry or GroupGeometry()
    alone = np.zeros(0, dtype=np.int64) if bystanders is None else bystanders
    if np.unique(alone).size != alone.size or np.isin(alone, pairs).any():
        raise ValueError("bystanders must be distinct and in no listed pair")
    positions = np.zeros((n, 2))
    headings = np.zeros(n)
    rooms = np.full(n, ABSENT, dtype=np.int64)
    groups = components(pairs)
    side = max(1, math.ceil(math.sqrt(2 * (len(groups) + alone.size))))
    slots = rng.permutation(side * side)[: len(groups) + alone.size]
    for group, slot in zip(groups, slots[: len(groups)].tolist(), strict=True):
        centre = np.array([slot % side, slot // side], dtype=np.float64) * g.spacing_m
        k = len(group)
        radius = max(g.min_radius_m, k * g.person_arc_m / (2 * math.pi))
        angles = rng.uniform(0, 2 * math.pi) + 2 * math.pi * np.arange(k) / k
        members = np.array(group, dtype=np.int64)
        places = centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
        positions[members] = places + rng.normal(0.0, g.jitter_m, (k, 2))
        toward = centre - positions[members]
        jitter = np.radians(rng.normal(0.0, g.heading_jitter_deg, k))
        headings[members] = np.arctan2(toward[:, 1], toward[:, 0]) + jitter
        rooms[members] = 0
    if alone.size:
        own = slots[len(groups) :]
        centres = np.column_stack([own % side, own // side]).astype(np.float64) * g.spacing_m
        positions[alone] = centres + rng.normal(0.0, g.jitter_m, (alone.size, 2))
        headings[alone] = rng.uniform(-math.pi, math.pi, alone.size)
        rooms[alone] = 0
    return Frame(positions, headings, rooms, tuple(tuple(x) for x in groups))


@dataclass(frozen=True)
class TraceRealisticRadio:
    """Places groups and bystanders (``place_groups``) and samples ``RealisticRadio`` on them.

    Attributes:
        radio: the radio model with its per-badge offsets.
        rng: draws the placement (``create`` gives the radio's noise the same generator).
        geometry: how far apart and how people stand.
        presence_gap_seconds: who counts as a bystander (``firmware_sim.trace.bystanders``).
    """

    radio: RealisticRadio
    rng: np.random.Generator
    geometry: GroupGeometry = GroupGeometry()
    presence_gap_seconds: int = PRESENCE_GAP_S

    @classmethod
    def create(
        cls,
        n: int,
        seed: int,
        params: RadioParams | None = None,
        presence_gap_seconds: int = PRESENCE_GAP_S,
    ) -> TraceRealisticRadio:
        """Offsets, noise and placement from ``seed``."""
        rng = np.random.default_rng(seed)
        radio = RealisticRadio.create(n, rng, params)
        return cls(radio, rng, presence_gap_seconds=presence_gap_seconds)

    def hear(self, pairs: Ints, n: int, bystanders: Ints | None = None) -> Reception:
        """What the realistic radio hears with the groups and bystanders placed."""
        frame = place_groups(pairs, n, self.rng, self.geometry, bystanders)
        return self.radio.receive(frame)


def build_replay_radio(
    kind: str, n: int, seed: int, params: RadioParams | None = None
) -> ReplayRadio:
    """``ideal`` or ``realistic`` (with ``params``, default ``RadioParams()``)."""
    if kind == "ideal":
        return TraceIdealRadio()
    if kind == "realistic":
        return TraceRealisticRadio.create(n, seed, params)
    raise ValueError(f"unknown radio {kind!r}: use ideal or realistic")


def _badge_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def replay_windows(
    trace: Trace,
    bundles: Mapping[str, ProvisioningBundle],
    plan: ReplayPlan,
    radio: ReplayRadio,
) -> Iterator[WindowOutput]:
    """The messages of every trace window with contacts, then the closing tail.

    Args:
        trace: the contacts to replay.
        bundles: trace id -> the bundle of the badge that plays it.
        plan: time mapping and tail.
        radio: decides what each badge hears of the listed contacts.

    Yields:
        One ``WindowOutput`` per replayed window; ``contacts`` are the listed pairs as
        badge ids ``(a, b)`` with ``a < b``. The badges in contact and the radio's
        bystanders report, in badge index order.

    Raises:
        BundleError: a trace id has no bundle.
    """
    missing = [x for x in trace.ids if x not in bundles]
    if missing:
        raise BundleError(f"{len(missing)} trace ids have no badge, e.g. {missing[:3]}")
    ids = list(trace.ids)
    index = {x: k for k, x in enumerate(ids)}
    switched_on = plan.window_start(min(trace.windows))
    badges = [Badge.from_bundle(bundles[x], start_time=switched_on) for x in ids]
    standing = bystanders(trace, radio.presence_gap_seconds)
    last_status: dict[int, int] = {}
    number = 0
    for t, listed in trace.windows.items():
        start = plan.window_start(t)
        pairs = np.array([(index[a], index[b]) for a, b in listed], dtype=np.int64).reshape(-1, 2)
        alone = np.array([index[x] for x in standing.get(t, ())], dtype=np.int64)
        present = sorted({k for p in pairs.tolist() for k in p} | set(alone.tolist()))
        ephids = [badges[k].ephid(start).hex() for k in range(len(badges))]
        heard = heard_lists(radio.hear(pairs, len(badges), alone), ephids, len(badges))
        messages: list[Outgoing] = []
        for k in present:
            if start - last_status.get(k, start - STATUS_INTERVAL_S) >= STATUS_INTERVAL_S:
                last_status[k] = start
                messages.append(badges[k].status(start))
            messages.append(badges[k].report(start, heard[k]))
        contacts = tuple(_badge_pair(badges[a].badge, badges[b].badge) for a, b in pairs.tolist())
        yield WindowOutput(number, start, tuple(messages), contacts, ())
        number += 1
    end = plan.window_start(max(trace.windows)) + plan.window_seconds
    for k in range(plan.tail_windows):
        start = end + k * plan.window_seconds
        messages = [badge.report(start, []) for badge in badges]
        yield WindowOutput(number, start, tuple(messages), (), ())
        number += 1


def publish_replay(
    windows: Iterator[WindowOutput],
    publisher: Publisher,
    *,
    window_seconds: int,
    lateness_seconds: int,
    clock: SimClock,
    total: int,
    progress: Callable[[int, int], None] | None = None,
    ack_timeout_s: float = 60.0,
    barriers: bool = True,
) -> PublishStats:
    """Publish replayed windows in event-time order, keeping the gateway's lateness bound.

    Messages of different badges travel over different connections and may overtake
    each other. The gateway drops a report once event time is more than the allowed
    lateness past it, so before a window that starts ``lateness_seconds`` or more after
    the last barrier, or after a skipped stretch of event time, the publisher waits
    until the broker has acknowledged everything before. Then no report can arrive
    behind reports of a window far enough ahead to make it stale.

    With ``barriers=False`` (a publisher with a single connection: the broker then
    forwards in publishing order anyway) only the final acknowledgement is awaited.

    The caller has started ``publisher``; this closes it.

    Raises:
        PublishError: the broker did not acknowledge a barrier in time.
    """
    barrier: int | None = None
    previous: int | None = None
    try:
        for out in windows:
            start = out.window_start
            jumped = previous is not None and start > previous + window_seconds
            due = barrier is None or jumped or start - barrier >= lateness_seconds
            if barriers and due:
                if not publisher.wait_acked(ack_timeout_s):
                    raise PublishError(f"broker did not acknowledge within {ack_timeout_s} s")
                barrier = start
            previous = start
            clock.wait_until(start + window_seconds)
            for topic, payload in out.messages:
                publisher.publish(topic, payload)
            if progress is not None:
                progress(out.index + 1, total)
    finally:
        stats = publisher.close(ack_timeout_s)
    return stats


def count_windows(trace: Trace, plan: ReplayPlan) -> int:
    """How many windows ``replay_windows`` yields."""
    return len(trace.windows) + plan.tail_windows


def trace_bundles(
    trace: Trace, bundles: Sequence[ProvisioningBundle], badge_of: Mapping[str, str]
) -> dict[str, ProvisioningBundle]:
    """Trace id -> bundle, given trace id -> badge id.

    Raises:
        BundleError: a trace id has no badge or its badge has no bundle.
    """
    by_badge = {b.badge: b for b in bundles}
    result: dict[str, ProvisioningBundle] = {}
    for x in trace.ids:
        bundle = by_badge.get(badge_of.get(x, ""))
        if bundle is None:
            raise BundleError(f"trace id {x} has no provisioned badge")
        result[x] = bundle
    return result
