"""The fast radio sampler draws from exactly the documented per-sample model.

``sample_links`` skips lost samples (Poisson thinning, truncated normals); these tests
compare it with the model written out sample by sample, on many links at fixed levels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from firmware_sim.radio import MAX_DBM, MIN_DBM, RadioParams, sample_links
from firmware_sim.sampler import (
    erfc,
    normal_tail,
    positive_poisson,
    tail_bound,
    truncated_normal,
)

LINKS = 40_000


def _per_sample_model(
    level: np.ndarray, params: RadioParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The model as documented: Poisson(mean) samples, each rint(level + noise), kept >= floor."""
    taken = rng.poisson(params.samples_mean, level.shape[0])
    heard, median, maximum, count = [], [], [], []
    noise = rng.normal(0.0, params.shadowing_sd_db, (level.shape[0], int(taken.max())))
    for k in range(level.shape[0]):
        kept = sorted(
            v
            for v in np.rint(level[k] + noise[k, : taken[k]]).tolist()
            if v >= params.sensitivity_dbm
        )
        heard.append(bool(kept))
        if kept:
            middle = (kept[(len(kept) - 1) // 2] + kept[len(kept) // 2]) / 2
            median.append(min(max(math.floor(middle + 0.5), MIN_DBM), MAX_DBM))
            maximum.append(min(max(kept[-1], MIN_DBM), MAX_DBM))
            count.append(len(kept))
    return np.array(heard), np.array(median), np.array(maximum), np.array(count)


def test_erfc_matches_the_standard_library() -> None:
    x = np.concatenate([np.linspace(-6, 26, 64_001), np.linspace(-1.2, 1.2, 2_401)])
    ours = erfc(x)
    reference = np.array([math.erfc(v) for v in x.tolist()])
    assert np.all(np.abs(ours - reference) <= 1e-13 * reference)


def test_tail_bound_is_an_upper_bound() -> None:
    z = np.linspace(-5, 30, 20_001)
    assert (tail_bound(z) >= normal_tail(z)).all()
    assert (tail_bound(z) <= 1.0).all()


def test_normal_tail_is_one_half_at_zero_and_symmetric() -> None:
    z = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    tail = normal_tail(z)
    assert tail[2] == pytest.approx(0.5)
    assert tail[:2] + tail[:2:-1] == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("bound", [-3.0, -0.5, 0.0, 0.7, 2.5, 9.0])
def test_truncated_normal_has_the_conditional_mean(bound: float) -> None:
    draws = truncated_normal(np.full(LINKS, bound), np.random.default_rng(3))
    assert (draws >= bound).all()
    density = math.exp(-bound * bound / 2) / math.sqrt(2 * math.pi)
    expected = density / (0.5 * math.erfc(bound / math.sqrt(2)))
    # The conditional spread is below 1: five standard errors of the mean.
    assert abs(float(draws.mean()) - expected) < 5 / math.sqrt(LINKS)


@pytest.mark.parametrize("mean", [1e-4, 0.3, 0.99, 1.0, 4.0, 12.0])
def test_positive_poisson_is_poisson_given_at_least_one(mean: float) -> None:
    draws = positive_poisson(np.full(LINKS, mean), np.random.default_rng(4))
    assert (draws >= 1).all()
    expected = mean / -math.expm1(-mean)
    spread = math.sqrt(max(expected * (1 + mean - expected), 1e-6))
    assert abs(float(draws.mean()) - expected) < 5 * spread / math.sqrt(LINKS)


@pytest.mark.parametrize("level", [-60.0, -84.0, -92.3, -97.0, -103.0, -109.0])
def test_sample_links_draws_from_the_per_sample_model(level: float) -> None:
    params = RadioParams()
    levels = np.full(LINKS, level)
    fast = sample_links(levels, params, np.random.default_rng(5))
    slow = _per_sample_model(levels, params, np.random.default_rng(6))
    heard_fast, heard_slow = float(fast[0].mean()), float(slow[0].mean())
    assert (
        abs(heard_fast - heard_slow) < 5 * math.sqrt(heard_slow * (1 - heard_slow) / LINKS) + 1e-3
    )
    for ours, theirs in zip(fast[1:], slow[1:], strict=True):
        assert ours.shape[0] == int(fast[0].sum())
        error = math.sqrt(theirs.var() / theirs.shape[0] + ours.var() / ours.shape[0])
        assert abs(float(ours.mean()) - float(theirs.mean())) < 5 * error + 1e-9
        values = np.union1d(ours, theirs)
        share_ours = np.array([(ours == v).mean() for v in values])
        share_theirs = np.array([(theirs == v).mean() for v in values])
        assert 0.5 * np.abs(share_ours - share_theirs).sum() < 0.03  # total variation


def test_sample_links_keeps_the_report_invariants() -> None:
    params = RadioParams()
    levels = np.random.default_rng(7).uniform(-130, -20, LINKS)
    heard, median, maximum, count = sample_links(levels, params, np.random.default_rng(8))
    assert median.shape == maximum.shape == count.shape == (int(heard.sum()),)
    assert (count >= 1).all()
    assert (median <= maximum).all()
    assert (median >= params.sensitivity_dbm).all() and (maximum <= MAX_DBM).all()
    # nothing is heard from a link far below the sensitivity; a strong one is missed only
    # when it takes no sample at all (Poisson(10) = 0: probability 4.5e-5)
    assert not heard[levels < -150].any()
    assert heard[levels > -70].mean() > 0.999


def test_sample_links_with_a_fractional_sensitivity_keeps_whole_dbm_at_or_above_it() -> None:
    params = RadioParams(sensitivity_dbm=-95.4)
    _, median, maximum, _ = sample_links(np.full(LINKS, -98.0), params, np.random.default_rng(9))
    assert median.min() == -95 and maximum.min() == -95


def test_same_generator_state_same_samples() -> None:
    levels = np.random.default_rng(10).uniform(-120, -50, 5_000)
    first = sample_links(levels, RadioParams(), np.random.default_rng(11))
    again = sample_links(levels, RadioParams(), np.random.default_rng(11))
    for a, b in zip(first, again, strict=True):
        assert a.tolist() == b.tolist()
