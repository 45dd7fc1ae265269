"""Shortcuts of the simulator's hot paths give exactly what the plain expressions give.

Each shortcut (a table lookup before an exact test, ``arccos`` only where it matters,
a table instead of a sort, keys the badges already hold) must leave every float and
byte of a run unchanged; whole runs are compared in test_sim_world.py and
test_sim_sealer.py, these compare the pieces over varied inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.frame import Frame, facing_angles, neighbour_pairs
from firmware_sim.heard_json import HeardEncoder, _distinct_stats
from firmware_sim.radio import (
    RadioParams,
    RealisticRadio,
    Reception,
    body_loss,
    body_loss_of_cosine,
    mean_rssi,
    sample_links,
)
from firmware_sim.sampler import _STEP, bound_candidates, tail_bound
from firmware_sim.sealer import secret_key_of, secret_keys
from protocol.signing import BadgeKey

_EDGES = [k * _STEP for k in range(-3, 400)] + [-1e-300, 1e-300, 11.999, 12.0, 1e6]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(-8.0, 40.0, allow_subnormal=False), st.sampled_from(_EDGES)),
        min_size=1,
        max_size=300,
    ),
    st.integers(0, 2**32 - 1),
    st.sampled_from([10.0, 1.0, 0.3, 37.5]),
)
def test_bound_candidates_are_the_links_the_plain_bound_keeps(
    low: list[float], seed: int, mean: float
) -> None:
    z = np.array(low)
    chance = np.random.default_rng(seed).random(size=(z.shape[0],))
    # Chances just below the bound itself: the table must keep those too.
    close = np.random.default_rng(seed + 1).random(z.shape[0]) < 0.5
    exact = -np.expm1(-mean * tail_bound(z))
    chance[close] = np.nextafter(exact[close], 0.0)
    expected = np.flatnonzero(chance < -np.expm1(-mean * tail_bound(z)))
    assert np.array_equal(bound_candidates(z, chance, mean), expected)


_COSINES = [0.5, 0.5 + 1e-16, 0.5 - 1e-16, 0.5 + 1e-9, -0.5, -0.5 - 1e-16, -0.5 + 1e-9, 1.0, -1.0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-1.0, 1.0), st.sampled_from(_COSINES)), max_size=200),
    st.sampled_from(
        [RadioParams(), RadioParams(body_free_angle_deg=0.0, body_full_angle_deg=180.0)]
        + [RadioParams(body_free_angle_deg=90.0, body_full_angle_deg=91.0, body_loss_db=40.0)]
        + [RadioParams(body_free_angle_deg=100.0, body_full_angle_deg=90.0)]
    ),
)
def test_body_loss_of_cosine_is_body_loss_of_the_angle(
    cosines: list[float], params: RadioParams
) -> None:
    cosine = np.array(cosines, dtype=np.float64)
    expected = body_loss(np.arccos(cosine), params)
    got = body_loss_of_cosine(cosine, params)
    assert np.array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-128, 127), st.integers(-128, 127), st.integers(1, 200)),
        max_size=300,
    )
)
def test_distinct_stats_is_unique_with_its_inverse(entries: list[tuple[int, int, int]]) -> None:
    median, maximum, count = np.array(entries, dtype=np.int64).reshape(-1, 3).T.copy()
    key = ((median + 128) * 256 + (maximum + 128)) * (1 << 24) + count
    expected, inverse = np.unique(key, return_inverse=True)
    distinct, which = _distinct_stats(median, maximum, count)
    assert np.array_equal(distinct, expected)
    assert np.array_equal(distinct[which], key)
    assert np.array_equal(which, inverse.reshape(-1))


def test_encoder_rejects_an_ephid_with_the_padding_byte() -> None:
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="32 hex"):
        HeardEncoder().encode_lists(
            ["\x00" * 32], one, one - 70, one - 70, one + 1, np.array([0, 1], dtype=np.int64)
        )


def test_secret_key_of_a_signer_is_the_derived_secret_key() -> None:
    seeds = [bytes([k]) * 32 for k in range(5)]
    signers = [BadgeKey(seed).signer() for seed in seeds]
    assert [secret_key_of(s) for s in signers] == secret_keys(seeds)


def test_the_body_loss_shortcut_margin_is_far_above_arccos_rounding() -> None:
    # arccos has a slope of at least 1, so 1e-9 on the cosine is at least 1e-9 rad.
    free = math.radians(RadioParams().body_free_angle_deg)
    assert np.arccos(math.cos(free) + 1e-9) < free
    assert np.arccos(math.cos(math.radians(120.0)) - 1e-9) > math.radians(120.0)


def _plain_receive(radio: RealisticRadio, frame: Frame) -> Reception:
    """``RealisticRadio.receive`` written out plainly: angles, a mask, both directions."""
    a, b = neighbour_pairs(frame, radio.params.max_range_m)
    angle_a, angle_b, distance = facing_angles(frame, a, b)
    pair_level = mean_rssi(
        distance, angle_a, angle_b, frame.rooms[a] != frame.rooms[b], radio.params
    )
    sender, receiver = np.concatenate([a, b]), np.concatenate([b, a])
    level = np.concatenate([pair_level, pair_level]) + radio.offsets[receiver]
    heard, median, maximum, count = sample_links(level, radio.params, radio.rng)
    return Reception(receiver[heard], sender[heard], median, maximum, count)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 120),
    st.floats(1.0, 40.0),
    st.integers(0, 2**32 - 1),
    st.sampled_from([RadioParams(), RadioParams(body_free_angle_deg=30.0, sensitivity_dbm=-85.5)]),
)
def test_receive_is_the_plain_computation(
    n: int, side: float, seed: int, params: RadioParams
) -> None:
    rng = np.random.default_rng(seed)
    frame = Frame(
        rng.uniform(0.0, side, (n, 2)),
        rng.uniform(-np.pi, np.pi, n),
        rng.integers(-1, 3, n),  # some absent (-1), some behind walls
    )
    fast = RealisticRadio.create(n, np.random.default_rng(seed), params)
    plain = RealisticRadio.create(n, np.random.default_rng(seed), params)
    for _ in range(2):  # the generator is left in the same state too
        got, expected = fast.receive(frame), _plain_receive(plain, frame)
        for field in ("receiver", "sender", "median", "maximum", "count"):
            assert np.array_equal(getattr(got, field), getattr(expected, field)), field
