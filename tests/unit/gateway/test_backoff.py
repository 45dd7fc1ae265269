"""Backoff: full jitter under an exponentially growing, capped ceiling."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from gateway.backoff import Backoff


def test_ceiling_doubles_then_caps_and_reset_starts_over() -> None:
    backoff = Backoff(0.5, 30.0, random.Random(1))
    ceilings = []
    for _ in range(10):
        ceilings.append(backoff.ceiling())
        backoff.next_delay()
    assert ceilings[:4] == [0.5, 1.0, 2.0, 4.0]
    assert ceilings[-1] == 30.0
    backoff.reset()
    assert backoff.ceiling() == 0.5 and backoff.attempt == 0


@given(seed=st.integers(0, 2**32), base=st.floats(0.01, 5), cap=st.floats(0.01, 60))
def test_delays_stay_within_zero_and_the_ceiling(seed: int, base: float, cap: float) -> None:
    backoff = Backoff(base, cap, random.Random(seed))
    for _ in range(80):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling <= max(cap, 0.0) + 1e-9


def test_jitter_spreads_delays() -> None:
    delays = {round(Backoff(1.0, 30.0, random.Random(seed)).next_delay(), 6) for seed in range(20)}
    assert len(delays) > 10
