"""ForwardLag: the age of the oldest meeting not yet forwarded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.lag import ForwardLag


def test_lag_is_the_age_of_the_oldest_waiting_checkpoint() -> None:
    lag = ForwardLag()
    assert lag.seconds(0, 100.0) == 0.0
    lag.journaled(3, 100.0)
    lag.journaled(0, 101.0)  # nothing new: no mark
    lag.journaled(2, 102.0)
    assert lag.seconds(5, 105.0) == 5.0
    assert lag.seconds(3, 106.0) == 6.0  # two of the first three forwarded
    assert lag.seconds(2, 107.0) == 5.0  # the first checkpoint is done
    assert lag.seconds(0, 108.0) == 0.0


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=30))
def test_lag_is_never_negative_and_zero_when_all_forwarded(steps: list[tuple[int, int]]) -> None:
    lag = ForwardLag()
    journaled = forwarded = 0
    now = 0.0
    for new, sent in steps:
        now += 1.0
        lag.journaled(new, now)
        journaled += new
        forwarded = min(journaled, forwarded + sent)
        value = lag.seconds(journaled - forwarded, now)
        assert 0.0 <= value <= now
        assert (value == 0.0) or journaled > forwarded
    assert lag.seconds(0, now + 1) == 0.0
