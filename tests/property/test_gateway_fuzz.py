"""Bad input at volume (issue 4, item 6): 100,000 hostile messages mixed with valid traffic.

Hypothesis draws, per example, where hostile blocks go in a live event and of which
kind; each block expands (from its drawn seed) into ``BLOCK`` messages: random bytes,
truncated, oversized, bit-flipped, forged with a wrong key, from unknown or revoked
badges, moved to another badge's topic, replays (exact resends and old seqs with other
content), future-dated and stale reports signed with the badge's own key, and signed
messages of another event. ``EXAMPLES x PLAN x BLOCK`` = 100,000 hostile messages.

The gateway's Processor runs in live mode with a fake wall clock that follows the event.
It must stay up (never raise), produce exactly the meetings of the valid traffic alone
(same ids, same content), accept exactly the valid messages, and count every hostile
message once: as a rejection with a reason allowed for its kind, or as a duplicate for
exact resends. The same property through a real broker and gateway process is covered,
at smaller volume, by tests/integration/test_gateway_service.py and the fault-injection test.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from protocol.api import Meeting
from protocol.messages import Heard, SightingReport
from protocol.signing import BadgeKey
from protocol.topics import BadgeChannel, badge_topic
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, badges, registry_for

EVENT = "ev-fuzz"
BADGES = 8
WINDOWS = 40
EXAMPLES = 10
PLAN = 40
BLOCK = 250
HOSTILE_PER_EXAMPLE = PLAN * BLOCK
assert EXAMPLES * HOSTILE_PER_EXAMPLE >= 100_000

Message = tuple[str, bytes]

ALLOWED: dict[str, set[str]] = {
    "garbage": {"malformed", "oversized", "bad_signature"},
    "garbage_topic": {"malformed", "wrong_event", "unknown_badge"},
    "truncated": {"malformed", "bad_signature"},
    "oversized": {"oversized"},
    "bit_flip": {"bad_signature", "malformed", "unknown_badge", "topic_mismatch"},
    "forged": {"bad_signature"},
    "unknown_badge": {"unknown_badge"},
    "revoked_badge": {"revoked_badge"},
    "moved": {"bad_signature"},
    "resend": {"duplicate"},
    "old_seq": {"replay"},
    "future": {"future"},
    "stale": {"stale"},
    "cross_event": {"wrong_event"},
}
KINDS = sorted(ALLOWED)


@dataclass
class Scene:
    """The valid traffic of one event and what hostile blocks may borrow from it."""

    members: list[TestBadge]
    revoked: TestBadge
    stranger: TestBadge
    foreigner: TestBadge
    valid: list[tuple[int, int, Message]] = field(default_factory=list)
    """(window index, member index, message) in publishing order."""


def build_scene() -> Scene:
    members = badges(EVENT, BADGES)
    scene = Scene(
        members=members,
        revoked=TestBadge.named("b-revoked", EVENT),
        stranger=TestBadge.named("b-stranger", EVENT),
        foreigner=TestBadge.named("b000", "ev-other"),
    )
    for i in range(WINDOWS):
        shift = 1 + (i // 5) % (BADGES - 1)
        for j, member in enumerate(members):
            partner = members[j ^ shift]
            heard = [(partner, -55)] if i < WINDOWS - 10 else []  # quiet tail closes all
            scene.valid.append((i, j, member.report(T0 + i * WINDOW, heard)))
    return scene


def now_for(window: int) -> float:
    """The wall clock when window ``window``'s reports arrive (live mode)."""
    return float(T0 + (window + 1) * WINDOW + 1)


def signed_report(badge: TestBadge, seq: int, window_start: int, rssi: int) -> Message:
    heard = [Heard(ephid=badge.ephid(window_start), rssi_median=rssi, rssi_max=rssi, count=1)]
    report = SightingReport(
        event=badge.event,
        badge=badge.badge,
        seq=seq,
        window_start=window_start,
        window_len=WINDOW,
        heard=heard,
    )
    return badge.sign(report, BadgeChannel.REPORTS)


@dataclass
class Context:
    """What a hostile block can see at its position in the stream."""

    scene: Scene
    sent: list[Message]
    last_seq: list[int]
    window: int


Maker = Callable[[Context, random.Random], tuple[Message, int | None]]
"""Builds one hostile message; the int is the member whose seq a real-key message used."""


def _some_sent(ctx: Context, rng: random.Random) -> Message:
    return ctx.sent[rng.randrange(len(ctx.sent))]


def _member(ctx: Context, rng: random.Random) -> tuple[int, TestBadge]:
    j = rng.randrange(BADGES)
    return j, ctx.scene.members[j]


def make(kind: str, ctx: Context, rng: random.Random) -> Message:
    topic, payload = _some_sent(ctx, rng)
    window_start = T0 + ctx.window * WINDOW
    if kind == "garbage":
        return topic, rng.randbytes(rng.choice((0, 1, 10, 65, 66, 300, 9000)))
    if kind == "garbage_topic":
        junk = rng.choice(("", "#", "inperson/v1", f"inperson/v1/{EVENT}/badges/x/reports/y"))
        return junk + rng.randbytes(3).hex(), payload
    if kind == "truncated":
        return topic, payload[: rng.randrange(len(payload))]
    if kind == "oversized":
        return topic, payload + b" " * (8193 - len(payload) + rng.randrange(100))
    if kind == "bit_flip":
        at = rng.randrange(len(payload))
        return topic, payload[:at] + bytes([payload[at] ^ (1 << rng.randrange(8))]) + payload[
            at + 1 :
        ]
    if kind == "forged":
        j, member = _member(ctx, rng)
        forger = TestBadge(member.badge, EVENT, BadgeKey(rng.randbytes(32)), member.ephid_key)
        return signed_report(forger, ctx.last_seq[j] + 1, window_start, -50)
    if kind == "unknown_badge":
        return signed_report(ctx.scene.stranger, rng.randrange(1, 10**6), window_start, -50)
    if kind == "revoked_badge":
        return signed_report(ctx.scene.revoked, rng.randrange(1, 10**6), window_start, -50)
    if kind == "moved":
        others = [m.badge for m in ctx.scene.members if m.badge not in topic.split("/")]
        return badge_topic(EVENT, rng.choice(others), BadgeChannel.REPORTS), payload
    if kind == "resend":
        return topic, payload
    if kind == "old_seq":
        j = rng.choice([j for j, seq in enumerate(ctx.last_seq) if seq > 0])
        member = ctx.scene.members[j]
        seq = rng.randrange(1, ctx.last_seq[j] + 1)
        return signed_report(member, seq, window_start, -40)
    if kind == "future":
        j, member = _member(ctx, rng)
        ahead = window_start + WINDOW * rng.randrange(10, 10**5)
        return signed_report(member, ctx.last_seq[j] + 1, ahead, -40)
    if kind == "stale":
        j, member = _member(ctx, rng)
        behind = window_start - WINDOW * rng.randrange(10, 10**5)
        return signed_report(member, ctx.last_seq[j] + 1, behind, -40)
    if kind == "cross_event":
        return signed_report(ctx.scene.foreigner, rng.randrange(1, 10**6), window_start, -40)
    raise AssertionError(kind)


def meetings_of(processor: Processor) -> dict[str, Meeting]:
    return {m.id: m for m in processor.take_meetings()}


SCENE = build_scene()
REGISTRY = registry_for(EVENT, [*SCENE.members, SCENE.revoked], revoked=[SCENE.revoked.badge])


@contextmanager
def quiet_rejections() -> Iterator[None]:
    """Keep 100,000 WARNING lines out of pytest's log capture (it stores every record)."""
    log = logging.getLogger("gateway.processor")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def run(plan: list[tuple[int, str, int]] | None) -> tuple[Processor, Counter[str], int]:
    """Feed the valid traffic, with the hostile blocks of ``plan`` (position, kind, seed)."""
    with quiet_rejections():
        return _run(plan or [])


def _run(plan: list[tuple[int, str, int]]) -> tuple[Processor, Counter[str], int]:
    clock = FakeClock(now_for(0))
    processor = Processor(BadgeRegistry(REGISTRY), clock, live_clock=True)
    blocks: dict[int, list[tuple[str, int]]] = {}
    for position, kind, seed in plan:
        blocks.setdefault(position, []).append((kind, seed))
    outcomes: Counter[str] = Counter()
    hostile = 0
    sent: list[Message] = []
    last_seq = [0] * BADGES
    for k, (window, j, message) in enumerate(SCENE.valid):
        clock.t = now_for(window)
        ctx = Context(SCENE, sent, last_seq, window)
        for kind, seed in blocks.get(k, []) if sent else []:
            rng = random.Random(seed)
            for _ in range(BLOCK):
                verdict = processor.handle(*make(kind, ctx, rng))
                assert verdict.outcome in ALLOWED[kind], (kind, verdict)
                outcomes[verdict.outcome] += 1
                hostile += 1
        verdict = processor.handle(*message)
        assert verdict.is_accepted, verdict
        sent.append(message)
        last_seq[j] += 1
    return processor, outcomes, hostile


REFERENCE, _, _ = run(None)
EXPECTED = meetings_of(REFERENCE)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # each example feeds 10,000 messages: report the failing plan as found, unshrunk
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    st.lists(
        st.tuples(
            st.integers(1, len(SCENE.valid) - 1),
            st.sampled_from(KINDS),
            st.integers(0, 2**32 - 1),
        ),
        min_size=PLAN,
        max_size=PLAN,
    )
)
def test_hostile_traffic_changes_no_meeting_and_every_rejection_is_counted(
    plan: list[tuple[int, str, int]],
) -> None:
    processor, outcomes, hostile = run(plan)
    assert hostile == HOSTILE_PER_EXAMPLE
    assert meetings_of(processor) == EXPECTED
    counters = processor.counters
    assert counters["accepted"] == REFERENCE.counters["accepted"] == len(SCENE.valid)
    assert counters["meetings"] == REFERENCE.counters["meetings"]
    assert counters["received"] == len(SCENE.valid) + hostile
    rejected = {
        k.removeprefix("rejected."): v
        for k, v in counters.items()
        if k.startswith("rejected.") and v
    }
    assert rejected == {k: v for k, v in outcomes.items() if k != "duplicate"}
    assert counters["duplicate"] == outcomes["duplicate"]
    assert sum(rejected.values()) + counters["duplicate"] == hostile


def test_the_reference_event_has_meetings() -> None:
    assert len(EXPECTED) >= 10
    assert msgspec.json.encode(list(EXPECTED.values()))  # JSON-ready like the journal needs
