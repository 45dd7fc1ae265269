"""Replay memory: the rules of docs/protocol.md section 7, and its base + change-log round trips.

The reference model is the plain rule: a badge's seqs seen so far with their digests,
and its highest seq; a seq at or below highest - WINDOW is a replay, one seen with the
same digest a duplicate, with another digest a replay.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.replay import DIGEST_LEN, DUPLICATE, NEW, REPLAY, WINDOW, ReplayMemory


class Model:
    """The rule, with unbounded memory."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[int, bytes]] = {}

    def classify(self, badge: str, seq: int, digest: bytes) -> str:
        seen = self.seen.get(badge, {})
        if not seen:
            return NEW
        if seq <= max(seen) - WINDOW:
            return REPLAY
        if seq in seen:
            return DUPLICATE if seen[seq] == digest else REPLAY
        return NEW

    def record(self, badge: str, seq: int, digest: bytes) -> None:
        self.seen.setdefault(badge, {})[seq] = digest


def digest(n: int) -> bytes:
    return n.to_bytes(DIGEST_LEN, "big")


# seqs mostly increasing with jumps, some going back: exercises the ring's wrap-around
steps = st.lists(
    st.tuples(
        st.sampled_from(["b1", "b2", "b-3"]),
        st.one_of(st.integers(-300, 3), st.integers(0, 600)),
        st.integers(0, 2),  # which of three contents
    ),
    max_size=300,
)


def drive(steps_: list[tuple[str, int, int]]) -> tuple[ReplayMemory, Model, list[bytes]]:
    """Run the verifier's use (classify, record what is new) on memory and model alike."""
    memory, model = ReplayMemory(), Model()
    highest: dict[str, int] = {}
    changes: list[bytes] = []
    for badge, delta, content in steps_:
        seq = max(0, highest.get(badge, 0) + delta)
        d = digest(seq * 3 + content)
        outcome = memory.classify(badge, seq, d)
        assert outcome == model.classify(badge, seq, d), (badge, seq)
        if outcome == NEW:
            memory.record(badge, seq, d)
            model.record(badge, seq, d)
            highest[badge] = max(highest.get(badge, 0), seq)
        if len(changes) < 3 and delta % 5 == 0:
            changes.append(memory.take_changes())
    changes.append(memory.take_changes())
    return memory, model, changes


def same_answers(memory: ReplayMemory, model: Model) -> None:
    for badge, seen in model.seen.items():
        top = max(seen)
        for seq in range(max(0, top - WINDOW - 2), top + 3):
            for content in range(3):
                d = digest(seq * 3 + content)
                assert memory.classify(badge, seq, d) == model.classify(badge, seq, d)


@given(steps)
def test_memory_follows_the_rule_with_a_bounded_ring(steps_: list[tuple[str, int, int]]) -> None:
    memory, model, _ = drive(steps_)
    same_answers(memory, model)


@given(steps, st.integers(0, 300))
def test_base_plus_changes_rebuild_the_same_memory(
    steps_: list[tuple[str, int, int]], split: int
) -> None:
    first, _, _ = drive(steps_[:split])
    base = first.dump()
    memory, model, changes = drive(steps_)  # the same steps, logged
    rest = ReplayMemory()
    rest.load(b"", b"".join(changes))
    same_answers(rest, model)
    assert rest.dump() == memory.dump()
    # a base then changes that partly repeat what the base holds (a retried checkpoint)
    again = ReplayMemory()
    again.load(base, b"".join(changes))
    same_answers(again, model)
    twice = ReplayMemory()
    twice.load(memory.dump(), b"".join(changes))
    assert twice.dump() == memory.dump()


def test_a_full_window_costs_the_same_however_long_the_badge_reports() -> None:
    memory = ReplayMemory()
    for seq in range(WINDOW):
        memory.record("b1", seq, digest(seq))
    full = len(memory.dump())
    for seq in range(WINDOW, 50 * WINDOW):
        memory.record("b1", seq, digest(seq))
    assert len(memory.dump()) == full
    assert memory.classify("b1", 50 * WINDOW - WINDOW, digest(0)) == REPLAY
    assert memory.classify("b1", 50 * WINDOW - 1, digest(50 * WINDOW - 1)) == DUPLICATE
    assert memory.classify("b1", 50 * WINDOW - WINDOW + 1, digest(1)) == REPLAY  # other bytes


def test_changes_are_taken_once() -> None:
    memory = ReplayMemory()
    memory.record("b1", 4, digest(4))
    assert memory.pending_changes > 0
    first = memory.take_changes()
    assert first and memory.take_changes() == b""
    with pytest.raises(ValueError):
        memory.record("b1", 5, b"short")


@pytest.mark.parametrize("cut", [1, 2, 5, 12, 18])
def test_cut_off_blobs_are_refused(cut: int) -> None:
    memory = ReplayMemory()
    memory.record("b1", 4, digest(4))
    changes = memory.take_changes()
    base = memory.dump()
    with pytest.raises(ValueError):
        ReplayMemory().load(base[:-cut], b"")
    with pytest.raises(ValueError):
        ReplayMemory().load(b"", changes[:-cut])


def test_the_older_json_form_still_loads() -> None:
    """Journals written before the ring kept ``{badge: [highest, base64(offset+digest...)]}``."""
    entries = [(10, digest(10)), (12, digest(12)), (300, digest(300))]
    blob = b"".join((300 - seq).to_bytes(1, "big") + d for seq, d in entries if seq > 300 - WINDOW)
    memory = ReplayMemory()
    memory.load_packed({"b1": [300, base64.b64encode(blob).decode()]})
    assert memory.classify("b1", 300, digest(300)) == DUPLICATE
    assert memory.classify("b1", 299, digest(299)) == NEW
    assert memory.classify("b1", 44, digest(44)) == REPLAY
    without_highest = blob[: -(1 + DIGEST_LEN)]
    with pytest.raises(ValueError):
        memory.load_packed({"b1": [300, base64.b64encode(without_highest).decode()]})
