"""Rate-limited rejection logs: the first lines per reason and period, then one summary."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.processor import Processor
from gateway.ratelog import PER_PERIOD, RateLimitedLog
from gateway.registry import BadgeRegistry
from protocol.topics import BadgeChannel, badge_topic
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import FakeClock

NAME = "tests.ratelog"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == NAME]


def test_logs_the_first_lines_then_one_summary_after_the_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    log = RateLimitedLog(logging.getLogger(NAME), clock, per_period=3, period_s=60.0)
    with caplog.at_level(logging.WARNING, logger=NAME):
        logged = [log.log(logging.WARNING, "unknown_reader", "tap %d", i) for i in range(10)]
        assert logged == [True] * 3 + [False] * 7
        assert _lines(caplog) == ["tap 0", "tap 1", "tap 2"]
        assert log.suppressed("unknown_reader") == 7
        clock.t += 59.9
        log.log(logging.WARNING, "unknown_reader", "tap late")
        assert _lines(caplog)[-1] == "tap 2"  # still the same period: suppressed too
        clock.t += 0.1
        log.log(logging.WARNING, "unknown_reader", "tap next")
    assert _lines(caplog)[3:] == ["suppressed 8 more unknown_reader in the last 60 s", "tap next"]
    assert log.suppressed("unknown_reader") == 0


def test_reasons_are_limited_apart(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = RateLimitedLog(logging.getLogger(NAME), clock, per_period=1, period_s=10.0)
    with caplog.at_level(logging.WARNING, logger=NAME):
        for _ in range(5):
            log.log(logging.WARNING, "a", "a")
        log.log(logging.WARNING, "b", "b")
        assert _lines(caplog) == ["a", "b"]
        clock.t += 10
        # another reason's line sums up the ended flood of "a"
        log.log(logging.WARNING, "b", "b again")
    assert _lines(caplog)[2:] == ["suppressed 4 more a in the last 10 s", "b again"]


def test_flush_sums_up_at_once(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLog(logging.getLogger(NAME), FakeClock(), per_period=0, period_s=60.0)
    with caplog.at_level(logging.WARNING, logger=NAME):
        log.log(logging.WARNING, "x", "never logged")
        log.log(logging.WARNING, "x", "never logged")
        log.flush()
        log.flush()  # nothing left
    assert _lines(caplog) == ["suppressed 2 more x in the last 60 s"]


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimitedLog(logging.getLogger(NAME), FakeClock(), per_period=-1)
    with pytest.raises(ValueError):
        RateLimitedLog(logging.getLogger(NAME), FakeClock(), period_s=0)


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 30)), min_size=1, max_size=200
    ),
    per_period=st.integers(0, 5),
)
def test_every_line_is_logged_or_summed_up(
    events: list[tuple[str, float]], per_period: int
) -> None:
    """Nothing is lost: logged lines plus summed-up counts equal the calls, per reason."""
    clock = FakeClock()
    logger = logging.getLogger(NAME + ".prop")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        log = RateLimitedLog(logger, clock, per_period=per_period, period_s=60.0)
        for reason, step in events:
            clock.t += step
            log.log(logging.WARNING, reason, "line %s", reason)
        log.flush()
    finally:
        logger.removeHandler(handler)
    args = [r.args if isinstance(r.args, tuple) else () for r in seen]
    for reason in "abc":
        calls = sum(1 for r, _ in events if r == reason)
        logged = sum(
            1 for r, a in zip(seen, args, strict=True) if r.msg == "line %s" and a == (reason,)
        )
        summed = sum(
            int(str(a[0]))
            for r, a in zip(seen, args, strict=True)
            if r.msg.startswith("suppressed") and a[1] == reason
        )
        assert logged + summed == calls
        # a new period starts at least 60 s after the previous one began (+1: float slack)
        assert logged <= per_period * (2 + int(sum(step for _, step in events) // 60))


def test_the_processor_counts_every_rejection_but_logs_few(
    badge_registry: BadgeRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    processor = Processor(badge_registry, clock)
    topic = badge_topic(EVENT, "b-nobody", BadgeChannel.REPORTS)
    with caplog.at_level(logging.WARNING, logger="gateway.processor"):
        for i in range(100):
            processor.handle(topic, b"not a signed report %d" % i)
        rejected = {k: v for k, v in processor.counters.items() if k.startswith("rejected.") and v}
        assert sum(rejected.values()) == 100
        (counter,) = rejected
        lines = [r.getMessage() for r in caplog.records if r.name == "gateway.processor"]
        assert len(lines) == PER_PERIOD
        assert all(line.startswith("rejected reason=") for line in lines)
        processor.flush_logs()
    reason = counter.removeprefix("rejected.")
    last = [r.getMessage() for r in caplog.records if r.name == "gateway.processor"][-1]
    assert last == f"suppressed {100 - PER_PERIOD} more rejected {reason} in the last 60 s"
