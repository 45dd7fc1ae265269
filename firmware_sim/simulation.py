"""The pure simulation: bundles and settings in, one ``WindowOutput`` per window out.

No I/O and no clock: the runner paces and publishes what this yields. Everything
random comes from generators seeded with ``settings.seed``, so the same bundles and
seed give byte-identical messages and the same ground truth.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from firmware_sim.badge import Badge, Draft, Outgoing
from firmware_sim.buffer import Link, OfflineBuffer
from firmware_sim.bundle import check_bundles
from firmware_sim.clock import BadgeClocks, ClockParams
from firmware_sim.config import SimSettings
from firmware_sim.crowd import Agenda, Crowd, CrowdParams
from firmware_sim.frame import Frame, Ints, face_to_face
from firmware_sim.heard_json import HeardEncoder
from firmware_sim.heard_rank import heard_json_lists
from firmware_sim.radio import IdealRadio, Radio, RealisticRadio
from firmware_sim.readers import NonceSource
from firmware_sim.sealer import Done, make_sealer, secret_key_of
from firmware_sim.venue import build_venue
from firmware_sim.window_output import SignedWindow, WindowOutput, assemble
from firmware_sim.world import world_windows
from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.ids import epoch_of
from protocol.messages import TapTranscript

logger = logging.getLogger(__name__)

STATUS_INTERVAL_S = 300
"""Event time between two status messages of a badge."""
CHECKIN_READER = "entrance"
"""Id of the check-in reader badges tap when they arrive at and leave the venue."""
TAP_PROBABILITY = 0.0015
"""Chance per window that two members of one conversation group tap badges (once per pair)."""


@dataclass(frozen=True)
class Timeline:
    """The windows of a simulated event: the agenda, then a tail in which nobody is present.

    Attributes:
        start: start of the first window, unix seconds (a multiple of ``window_seconds``).
        window_seconds: length of a window.
        agenda_windows: windows of the agenda.
        tail_windows: windows after the agenda, long enough for the gateway's event-time
            watermark to close every meeting.
    """

    start: int
    window_seconds: int
    agenda_windows: int
    tail_windows: int

    @property
    def windows(self) -> int:
        """All windows, agenda and tail."""
        return self.agenda_windows + self.tail_windows

    def window_start(self, index: int) -> int:
        """Start of window ``index``."""
        return self.start + index * self.window_seconds


def plan_timeline(detection: DetectionSettings, minutes: float, start_time: int) -> Timeline:
    """Lay out the windows of an agenda of ``minutes`` starting at ``start_time``.

    The first window starts at ``start_time`` rounded up to a window boundary. The
    tail has ``ceil((gap + lateness + 2 * window) / window) + 2`` windows.
    """
    w = detection.window_seconds
    start = -(-start_time // w) * w
    agenda = max(1, math.ceil(minutes * 60 / w))
    reach = detection.gap_tolerance_seconds + detection.allowed_lateness_seconds + 2 * w
    return Timeline(start, w, agenda, math.ceil(reach / w) + 2)


def build_radio(kind: str, n_badges: int, rng: np.random.Generator) -> Radio:
    """The radio named by ``SimSettings.radio``."""
    if kind == "ideal":
        return IdealRadio()
    return RealisticRadio.create(n_badges, rng)


def _taps(
    frame: Frame, window_start: int, window: int, rng: random.Random, tapped: set[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """Draw this window's taps among conversation partners: ``(t, i, j)`` with i < j."""
    taps: list[tuple[int, int, int]] = []
    for group in frame.groups:
        for k, i in enumerate(group):
            for j in group[k + 1 :]:
                if (i, j) not in tapped and rng.random() < TAP_PROBABILITY:
                    tapped.add((i, j))
                    taps.append((window_start + rng.randrange(window), i, j))
    return taps


def _checkins(
    present: npt.NDArray[np.bool_],
    was_present: npt.NDArray[np.bool_],
    start: int,
    window_seconds: int,
    rng: random.Random,
) -> dict[int, tuple[str, int, Literal["entry", "exit"]]]:
    """(nonce, t, direction) for badges that just arrived (entry) or just left (exit)."""
    result: dict[int, tuple[str, int, Literal["entry", "exit"]]] = {}
    for k in np.flatnonzero(present != was_present).tolist():
        direction: Literal["entry", "exit"] = "entry" if present[k] else "exit"
        t = start + rng.randrange(window_seconds)
        result[k] = (_nonce(rng), t, direction)
    return result


class _EphIds:
    """Every badge's EphID (hex) by its local time; derived again only when its epoch changes."""

    def __init__(self, badges: Sequence[Badge]) -> None:
        self._badges = badges
        rotation = [b.settings.ephid_rotation_seconds for b in badges]
        for r in set(rotation):
            epoch_of(0, r)  # raises on a rotation the protocol does not allow
        self._rotation = np.array(rotation, dtype=np.int64)
        self._epochs = np.full(len(badges), np.iinfo(np.int64).min, dtype=np.int64)
        self._hex = [""] * len(badges)

    def at(self, local: Ints) -> list[str]:
        """The EphIDs the badges broadcast at their local times ``local`` (do not modify)."""
        epochs = local // self._rotation
        times = local.tolist()
        for k in np.flatnonzero(epochs != self._epochs).tolist():
            self._hex[k] = self._badges[k].ephid(times[k]).hex()
        self._epochs = epochs
        return self._hex


def _nonce(rng: random.Random) -> str:
    return rng.getrandbits(128).to_bytes(16, "big").hex()


def clock_params(settings: SimSettings) -> ClockParams:
    """The badge clock model the settings describe."""
    return ClockParams(
        drift_ppm=settings.clock_drift_ppm,
        boot_offset_s=settings.clock_boot_offset_s,
        resync=settings.clock_resync,
        resync_interval_s=settings.clock_resync_interval_s,
    )


def simulate(
    bundles: Sequence[ProvisioningBundle],
    settings: SimSettings,
    *,
    radio: Radio | None = None,
    crowd_params: CrowdParams | None = None,
    nonces: NonceSource | None = None,
    world_process: bool = False,
    signer_process: bool = False,
) -> Iterator[WindowOutput]:
    """Simulate the event window by window.

    Args:
        bundles: one provisioning bundle per badge, all of one event.
        settings: seed, agenda length, start time, radio kind, taps.
        radio: use this radio instead of the one ``settings.radio`` names.
        crowd_params: crowd behaviour; defaults to ``CrowdParams`` with the event's window.
        nonces: where badges learn the check-in reader's nonce (a badge that learns none
            does not tap); None: each badge makes one up from the seed (no reader needed).
        world_process: step the crowd and the radio in a worker process, ahead of the
            badges (``firmware_sim.world``): the same output, using a second core.
        signer_process: sign each window's messages (all, or most with a world worker)
            in a signer process (``firmware_sim.sealer``): the same output.

    Yields:
        One ``WindowOutput`` per window, agenda first, then the empty tail.

    Raises:
        BundleError: the bundles do not form one event.
    """
    ordered = check_bundles(bundles)
    detection = ordered[0].settings
    timeline = plan_timeline(detection, settings.minutes, settings.start_time)
    crowd_rng = random.Random(settings.seed)
    tap_rng = random.Random(f"taps/{settings.seed}")
    badge_rng = random.Random(f"badges/{settings.seed}")
    checkin_rng = random.Random(f"checkins/{settings.seed}")
    radio = radio or build_radio(settings.radio, len(ordered), np.random.default_rng(settings.seed))
    params = crowd_params or CrowdParams(
        window_seconds=timeline.window_seconds, walking=settings.walking
    )
    venue = build_venue(len(ordered), params.seated_share)
    crowd = Crowd.create(
        venue, Agenda.for_windows(timeline.agenda_windows), len(ordered), crowd_rng, params
    )
    # First, so that a world worker starts up while this process builds the badges.
    world = world_windows(crowd, radio, timeline.windows, is_worker=world_process)
    badges = [
        Badge.from_bundle(
            b,
            start_time=timeline.start,
            battery_start=badge_rng.uniform(80.0, 100.0),
            drain_per_hour=badge_rng.uniform(2.0, 5.0),
        )
        for b in ordered
    ]
    ids = [b.badge for b in badges]
    tapped: set[tuple[int, int]] = set()
    was_present = np.zeros(len(badges), dtype=bool)
    outage_rng = random.Random(f"outages/{settings.seed}")
    buffers = [OfflineBuffer(settings.buffer_capacity) for _ in badges]
    links = [Link(settings.outage_rate, settings.outage_mean_windows) for _ in badges]
    status_every = max(1, STATUS_INTERVAL_S // timeline.window_seconds)
    encoder = HeardEncoder()
    clocks = BadgeClocks(
        len(badges),
        clock_params(settings),
        np.random.default_rng([settings.seed, 0xC10C]),
        timeline.start,
    )
    was_online = np.zeros(len(badges), dtype=bool)
    has_outages = settings.outage_rate > 0
    last_label = np.full(len(badges), np.iinfo(np.int64).min, dtype=np.int64)
    ephids = _EphIds(badges)
    buffered: set[int] = set()  # badges whose offline buffer may not be empty
    logger.info(
        "simulating event=%s badges=%d windows=%d (agenda %d, tail %d) radio=%s",
        ordered[0].event,
        len(badges),
        timeline.windows,
        timeline.agenda_windows,
        timeline.tail_windows,
        type(radio).__name__,
    )
    try:
        sealer = make_sealer(
            [bytes.fromhex(b.signing_seed) for b in ordered],
            signer_process=signer_process,
            world_process=world_process,
            keys=[secret_key_of(b.signer) for b in badges],  # the badges derived them already
        )
    except BaseException:
        world.close()
        raise
    held: SignedWindow | None = None  # a window signed while the next one is drafted
    try:
        for index in range(timeline.windows):
            start = timeline.window_start(index)
            frame, reception = next(world)
            ci, cj = face_to_face(frame)
            contacts = tuple(
                (ids[i], ids[j]) for i, j in zip(ci.tolist(), cj.tolist(), strict=True)
            )
            is_last = index == timeline.windows - 1
            if has_outages:
                online = np.array([link.step(outage_rng) for link in links], dtype=bool)
            else:
                online = np.ones(len(badges), dtype=bool)
            online |= is_last  # the last window flushes every buffer
            clocks.synchronise(start, online, online & ~was_online)
            was_online = online
            # Each badge works on its own clock: its EphID epoch, window label and times.
            w = timeline.window_seconds
            labels = clocks.window_labels(start, w)
            # A clock set back (resync) would repeat a window it already reported: skip it.
            reporting = labels > last_label
            last_label = np.where(reporting, labels, last_label)
            window_ephids = ephids.at(clocks.local_times(start + w / 2))
            heard = heard_json_lists(reception, window_ephids, len(badges), encoder)
            taps = []
            if settings.taps:
                taps = _taps(frame, start, timeline.window_seconds, tap_rng, tapped)
            halves: dict[int, list[TapTranscript]] = {}
            for t, i, j in taps:
                nonce_a, nonce_b = _nonce(tap_rng), _nonce(tap_rng)
                transcript = TapTranscript(
                    badge_a=ids[i], badge_b=ids[j], nonce_a=nonce_a, nonce_b=nonce_b, t=t
                )
                halves.setdefault(i, []).append(transcript)
                halves.setdefault(j, []).append(transcript)
            checkins: dict[int, tuple[str, int, Literal["entry", "exit"]]] = {}
            if settings.checkins:
                checkins = _checkins(
                    frame.present, was_present, start, timeline.window_seconds, checkin_rng
                )
            was_present = frame.present
            # Pass 1: every badge's new messages as unsigned drafts, in publishing order.
            # Most badges only report; the others (status due, taps, check-ins, offline
            # or with a buffer to flush) take the full path.
            is_status = index % status_every == 0
            offline = set(np.flatnonzero(~online).tolist())
            special = halves.keys() | checkins.keys() | offline | buffered
            local_start = clocks.local_times(start).tolist() if is_status else []
            label_list = labels.tolist()
            is_reporting = reporting.tolist()
            who: list[int] = []
            drafts: list[Draft] = []
            # (draft position, badge, its drained buffer, how many drafts are its own)
            detours: list[tuple[int, int, list[Outgoing], int]] = []
            everyone = is_status or special
            for k in range(len(badges)) if everyone else np.flatnonzero(reporting).tolist():
                badge = badges[k]
                if not is_status and k not in special:
                    if is_reporting[k]:
                        who.append(k)
                        drafts.append(badge.report_draft(label_list[k], heard[k]))
                    continue
                at = len(drafts)
                if is_status:
                    buffer = buffers[k]
                    drafts.append(
                        badge.status_draft(
                            local_start[k], buffer_fill=buffer.fill, drops=buffer.drops
                        )
                    )
                for tr in sorted(halves.get(k, []), key=lambda x: x.t):
                    drafts.append(badge.tap_draft(tr))
                if k in checkins:
                    nonce, t, direction = checkins[k]
                    quoted = nonce if nonces is None else nonces.nonce_for(CHECKIN_READER)
                    if quoted is not None:
                        drafts.append(badge.checkin_draft(CHECKIN_READER, quoted, t, direction))
                if is_reporting[k]:
                    drafts.append(badge.report_draft(label_list[k], heard[k]))
                who.extend([k] * (len(drafts) - at))
                if k in offline:
                    detours.append((at, k, [], len(drafts) - at))
                    buffered.add(k)
                elif k in buffered:
                    detours.append((at, k, buffers[k].drain(), 0))
                    buffered.discard(k)
            # Pass 2: sign them all, then publish in order, keeping offline badges' own.
            # Signing is pipelined: a signer process signs this window while this process
            # drafts the next one; the previous window is collected first (one batch at a
            # time). A window with offline badges fills their buffers, which the next
            # window reads, so it is finished before going on, as is a window signed here
            # in full (nothing to overlap). Same bytes either way.
            previous, held = held, None
            earlier = previous.batch.result() if previous is not None else []
            current = SignedWindow(
                index,
                start,
                sealer.submit(who, drafts),
                contacts,
                tuple((t, ids[i], ids[j]) for t, i, j in taps),
            )
            if previous is not None:
                yield previous.output(earlier)
            if detours or isinstance(current.batch, Done):  # Done: signed here already
                yield current.output(assemble(current.batch.result(), detours, buffers))
            else:
                held = current
        if held is not None:
            yield held.output(held.batch.result())
    finally:
        sealer.close()
        world.close()
