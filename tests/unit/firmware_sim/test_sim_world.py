"""The world (crowd + radio) stepped in a worker process gives exactly the in-process output."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.config import SimSettings
from firmware_sim.crowd import Agenda, Crowd, CrowdParams
from firmware_sim.frame import Frame
from firmware_sim.radio import RealisticRadio, Reception
from firmware_sim.simulation import simulate
from firmware_sim.venue import build_venue
from firmware_sim.world import world_windows
from tests.unit.firmware_sim.fakes import make_bundles


def _settings(**overrides: object) -> SimSettings:
    values: dict[str, object] = {
        "bundles_dir": Path("."),
        "minutes": 6.0,
        "seed": 5,
        "radio": "realistic",
    }
    values.update(overrides)
    return SimSettings(**values)  # type: ignore[arg-type]


def test_simulation_with_a_world_worker_is_byte_identical() -> None:
    bundles = make_bundles(60)
    here = list(simulate(bundles, _settings()))
    there = list(simulate(bundles, _settings(), world_process=True))
    assert len(here) == len(there) > 0
    for a, b in zip(here, there, strict=True):
        assert a.messages == b.messages
        assert a.contacts == b.contacts and a.taps == b.taps
    assert any(len(out.contacts) for out in here)  # the run had contacts to get wrong


def _crowd(n: int) -> Crowd:
    params = CrowdParams()
    return Crowd.create(
        build_venue(n, params.seated_share), Agenda.for_windows(8), n, random.Random(2), params
    )


def test_stopping_early_ends_the_worker() -> None:
    windows = world_windows(
        _crowd(40), RealisticRadio.create(40, np.random.default_rng(1)), 8, is_worker=True
    )
    frame, reception = next(windows)
    assert isinstance(frame, Frame) and isinstance(reception, Reception)
    windows.close()  # the worker, blocked on its queue, is terminated and joined


class _BrokenRadio:
    def receive(self, frame: Frame) -> Reception:
        raise ValueError("antenna fell off")


def test_a_failing_worker_raises_here() -> None:
    windows = world_windows(_crowd(10), _BrokenRadio(), 3, is_worker=True)
    with pytest.raises(RuntimeError, match="antenna fell off"):
        next(windows)


def test_closing_before_the_first_window_ends_the_worker() -> None:
    # The worker starts at once (the crowd follows through a queue): closing ends it.
    windows = world_windows(
        _crowd(40), RealisticRadio.create(40, np.random.default_rng(1)), 8, is_worker=True
    )
    assert any(p.name == "world" for p in multiprocessing.active_children())
    windows.close()
    assert not any(p.name == "world" for p in multiprocessing.active_children())
    with pytest.raises(StopIteration):
        next(windows)
