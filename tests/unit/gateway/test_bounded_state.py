"""Memory grows with the active pairs, not with history (issue 4, item 2).

A steady crowd (16 badges, partners change every 6 windows) runs for 300 and then for
900 windows. Everything the gateway keeps between messages is in its checkpointed
state plus the replay memory and the contact state (journaled apart, each as a base and
a change log), so their serialized size is the measure: it must not grow with the meetings
already closed once every per-badge structure is full (replay memory keeps the last
256 seqs of each badge, so history beyond that must cost nothing).
"""

from __future__ import annotations

import msgspec

from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, badges, registry_for

BADGES = 16
ROTATE_EVERY = 6


def run_windows(processor: Processor, members: list[TestBadge], windows: range) -> None:
    for i in windows:
        shift = 1 + (i // ROTATE_EVERY) % (BADGES - 1)
        for j, member in enumerate(members):
            partner = members[j ^ shift]
            verdict = processor.handle(*member.report(T0 + i * WINDOW, [(partner, -55)]))
            assert verdict.is_accepted


def state_size(processor: Processor) -> int:
    """The checkpointed state plus the replay memory and the contact state (journaled apart,
    each as base + log; a base is what its log is compacted into)."""
    return (
        len(msgspec.json.encode(processor.snapshot()))
        + len(processor.replay.dump())
        + len(processor.dump_contacts())
    )


def test_state_stays_bounded_while_history_grows() -> None:
    members = badges("ev-steady", BADGES)
    processor = Processor(BadgeRegistry(registry_for("ev-steady", members)), FakeClock())
    run_windows(processor, members, range(0, 300))
    closed_early = processor.counters["meetings"]
    early = state_size(processor)
    early_gauges = processor.gauges()
    run_windows(processor, members, range(300, 900))
    late = state_size(processor)
    late_gauges = processor.gauges()

    assert processor.counters["meetings"] >= 2 * closed_early > 0  # history did grow
    assert late <= early * 1.05, (early, late)
    assert late_gauges["open_pairs"] <= BADGES  # about one open partner per badge
    for name in ("pending_half_contacts", "open_pairs", "open_windows"):
        assert late_gauges[name] == early_gauges[name], name  # same phase of the rotation
