"""Random draws the radio needs that numpy does not offer: normal tails, truncated draws.

``erfc`` (numpy has none, and scipy is not a dependency), the standard normal tail, an
exact sampler of the normal conditioned on a lower bound, a cheap upper bound on the
tail, a table lookup that narrows millions of links down to the few that may be heard,
and Poisson draws conditioned on being positive. All elementwise over arrays.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from firmware_sim.frame import Floats, Ints

_SQRT_2PI = math.sqrt(2.0 * math.pi)

# Cephes ``ndtr.c`` rational approximations of erf/erfc (relative error below 1e-13 against
# ``math.erfc``, checked in tests/unit/firmware_sim/test_sim_radio_sampling.py).
_ERFC_P = np.array(
    [
        2.46196981473530512524e-10,
        5.64189564831068821977e-1,
        7.46321056442269912687e0,
        4.86371970985681366614e1,
        1.96520832956077098242e2,
        5.26445194995477358631e2,
        9.34528527171957607540e2,
        1.02755188689515710272e3,
        5.57535335369399327526e2,
    ]
)
_ERFC_Q = np.array(
    [
        1.0,
        1.32281951154744992508e1,
        8.67072140885989742329e1,
        3.54937778887819891062e2,
        9.75708501743205489753e2,
        1.82390916687909736289e3,
        2.24633760818710981792e3,
        1.65666309194161350182e3,
        5.57535340817727675546e2,
    ]
)
_ERFC_R = np.array(
    [
        5.64189583547755073984e-1,
        1.27536670759978104416e0,
        5.01905042251180477414e0,
        6.16021097993053585195e0,
        7.40974269950448939160e0,
        2.97886665372100240670e0,
    ]
)
_ERFC_S = np.array(
    [
        1.0,
        2.26052863220117276590e0,
        9.39603524938001434673e0,
        1.20489539808096656605e1,
        1.70814450747141311264e1,
        9.60896809063285067876e0,
        3.36907645100081516050e0,
    ]
)
_ERF_T = np.array(
    [
        9.60497373987051638749e0,
        9.00260197203842689217e1,
        2.23200534594684319226e3,
        7.00332514112805075473e3,
        5.55923013010394962768e4,
    ]
)
_ERF_U = np.array(
    [
        1.0,
        3.35617141647503099647e1,
        5.21357949780152679795e2,
        4.59432382970980127987e3,
        2.26290000613890934246e4,
        4.92673942608635921086e4,
    ]
)


def _horner(coefficients: Floats, x: Floats) -> Floats:
    result = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result *= x
        result += c
    return result


def erfc(x: Floats) -> Floats:
    """The complementary error function, elementwise (numpy has none and scipy is not used)."""
    ax = np.abs(x)
    result = np.empty_like(ax)
    near = ax < 1.0
    mid = ~near & (ax < 8.0)
    far = ax >= 8.0
    z = x[near]
    square = z * z
    result[near] = 1.0 - z * _horner(_ERF_T, square) / _horner(_ERF_U, square)
    for mask, top, bottom in ((mid, _ERFC_P, _ERFC_Q), (far, _ERFC_R, _ERFC_S)):
        z = ax[mask]
        result[mask] = np.exp(-z * z) * _horner(top, z) / _horner(bottom, z)
    negative = ~near & (x < 0.0)
    result[negative] = 2.0 - result[negative]
    return result


def normal_tail(z: Floats) -> Floats:
    """P(Z >= z) for a standard normal Z, elementwise."""
    result: Floats = 0.5 * erfc(z / math.sqrt(2.0))
    return result


def truncated_normal(low: Floats, rng: np.random.Generator) -> Floats:
    """One standard normal draw conditioned on being at least ``low``, per element.

    Exact rejection samplers: for a bound below 0 plain normal draws (acceptance above
    1/2); from 0 up Robert's (1995) shifted-exponential proposal (acceptance above 3/4),
    so even a bound far in the tail costs a couple of draws.
    """
    result = np.empty_like(low)
    is_tail = low >= 0.0
    pending = np.flatnonzero(~is_tail)
    while pending.size:
        draw = rng.standard_normal(pending.size)
        accepted = draw >= low[pending]
        result[pending[accepted]] = draw[accepted]
        pending = pending[~accepted]
    pending = np.flatnonzero(is_tail)
    while pending.size:
        bound = low[pending]
        rate = (bound + np.sqrt(bound * bound + 4.0)) / 2.0
        draw = bound + rng.standard_exponential(pending.size) / rate
        accepted = rng.random(pending.size) <= np.exp(-0.5 * (draw - rate) ** 2)
        result[pending[accepted]] = draw[accepted]
        pending = pending[~accepted]
    return result


def tail_bound(z: Floats) -> Floats:
    """An upper bound on ``normal_tail(z)`` from one exponential (Chernoff and Mills ratio)."""
    result = np.ones_like(z)
    positive = z > 0.0
    zp = z[positive]
    result[positive] = np.exp(-0.5 * zp * zp) * np.minimum(0.5, 1.0 / (zp * _SQRT_2PI))
    return result


_STEP = 1.0 / 32.0
"""Bin width of ``_threshold_table`` in standard deviations (a power of 2: exact bins)."""
_LAST_EDGE = 12.0
"""Upper edge of the last bin; every bound from here up shares it."""


@functools.lru_cache(maxsize=8)
def _threshold_table(mean: float) -> Floats:
    """``-expm1(-mean * tail_bound(z))`` at the left edge of each bin, slightly raised.

    Bin 0 holds every ``z < 0`` (where the bound is 1); bin ``i >= 1`` holds
    ``(i - 1) * _STEP <= z < i * _STEP``, the last one everything above. The bound does
    not increase with ``z``, so a bin's value is at least that of every ``z`` in it;
    the relative 1e-9 added covers rounding (a few ulps) many times over.
    """
    edges = np.concatenate([[-1.0], np.arange(0.0, _LAST_EDGE + _STEP / 2, _STEP)])
    table: Floats = -np.expm1(-mean * tail_bound(edges)) * (1.0 + 1e-9)
    table[0] = -np.expm1(-mean * 1.0) * (1.0 + 1e-9)
    return table


def bound_candidates(low: Floats, chance: Floats, mean: float) -> Ints:
    """Positions where ``chance < -expm1(-mean * tail_bound(low))``, ascending.

    The same positions as evaluating that expression everywhere, at a fraction of the
    cost: a table lookup by bin of ``low`` (``_threshold_table``) keeps a superset, a
    few per cent of a seated hall's links, and only those are tested exactly.
    """
    table = _threshold_table(mean)
    scaled = low * (1.0 / _STEP)  # exact: a power of 2
    # Bin floor(scaled) + 1, read as table[1:][floor(scaled)]. Every z < 0 takes bin 1
    # instead of bin 0, whose value is the same (the bound is 1 up to z = 0), so the
    # values can be clipped at 0, where truncating is flooring.
    np.clip(scaled, 0.0, float(table.shape[0] - 2), out=scaled)
    kept = np.flatnonzero(chance < table[1:][scaled.astype(np.intp)])
    exact = chance[kept] < -np.expm1(-mean * tail_bound(low[kept]))
    result: Ints = kept[exact]
    return result


def positive_poisson(mean: Floats, rng: np.random.Generator) -> Ints:
    """Poisson(``mean``) draws conditioned on being at least 1.

    From a mean of 1 up, plain Poisson draws are redrawn while 0 (acceptance above
    0.63); below, the conditional CDF is inverted, which ends after a step or two.
    """
    result = np.ones(mean.shape[0], dtype=np.int64)
    pending = np.flatnonzero(mean >= 1.0)
    while pending.size:
        draw = rng.poisson(mean[pending])
        result[pending] = draw
        pending = pending[draw == 0]
    small = np.flatnonzero(mean < 1.0)
    rate = mean[small]
    target = rng.random(small.shape[0]) * -np.expm1(-rate)
    term = np.exp(-rate) * rate
    reached = term.copy()
    pending = np.flatnonzero(target > reached)
    k = 1
    while pending.size and k < 1000:
        k += 1
        term[pending] *= rate[pending] / k
        reached[pending] += term[pending]
        result[small[pending]] = k
        pending = pending[(target[pending] > reached[pending]) & (term[pending] > 0.0)]
    return result
