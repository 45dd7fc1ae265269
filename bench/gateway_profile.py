"""The gateway pipeline's CPU per message without MQTT (for profiling; not in the bench's main)."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.gateway_driver import NO_BROKER, gateway_settings, server_stub
from bench.gateway_rates import run_verify
from bench.gateway_stream import bench_nonce_bytes, bundles_for, registry_of, stream_of
from gateway.clock import SystemClock
from gateway.journal import TinyDBJournal
from gateway.service import Gateway
from gateway.uplink import Uplink


def profile_pipeline(
    badges: int = 200, minutes: float = 10.0, repeats: int = 3, top: int = 0
) -> dict[str, float]:
    """The pipeline without MQTT: CPU µs per message of (b) and of ``Gateway._handle``.

    The stream goes as ``Received`` objects through a real (not running) ``Gateway``'s
    ``_handle`` (Processor with the check-in readers, as configured by the bench), taking
    the state for a checkpoint every 200 messages the way ``Checkpointer.checkpoint`` does
    on the loop (no journal, no MQTT). Interleaved repeats, medians. ``top`` > 0 also prints a
    cProfile (CPU time) of one run, sorted by own time. For profiling, not in ``main``:

        .venv/bin/python -c "from bench.gateway_profile import profile_pipeline as p; \
            print(p(top=25))"
    """
    import cProfile
    import pstats

    from gateway.mqtt_client import Received

    bundles = bundles_for(badges)
    registry = registry_of(bundles)
    messages = stream_of(bundles, minutes, 7)
    items = [Received(topic, payload, i, 1, 0) for i, (topic, payload) in enumerate(messages)]
    handle_us: list[float] = []
    verify_us: list[float] = []

    def one(profile: cProfile.Profile | None = None) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            settings = gateway_settings(Path(tmp), NO_BROKER)  # type: ignore[arg-type]
            gateway = Gateway(
                settings,
                registry,
                Uplink(server_stub(registry), "http://stub", "token"),
                clock=SystemClock(),
                rng=random.Random(1),
                journal=TinyDBJournal(Path(tmp)),
                nonce_bytes=bench_nonce_bytes,
            )
            processor = gateway._processor
            checkpointer = gateway._checkpointer
            assert processor.readers is not None
            processor.readers.rotate()
            start = time.process_time()
            if profile is not None:
                profile.enable()
            for n, item in enumerate(items, 1):
                gateway._handle(item)
                if n % 200 == 0:  # what Checkpointer.checkpoint takes on the loop
                    processor.take_meetings()
                    processor.snapshot()
                    processor.replay.take_changes()
                    changes, _ = checkpointer.take_contacts()
                    processor.take_checkins()
                    # as if that checkpoint succeeded (a contact base only at the first)
                    del checkpointer._contacts_unsaved[: len(changes)]
                    checkpointer._contacts_base_due = False
                    checkpointer._pending.clear()
            if profile is not None:
                profile.disable()
            return (time.process_time() - start) / len(items) * 1e6

    for _ in range(repeats):
        handle_us.append(one())
        verify_us.append(1e6 / run_verify(registry, messages)[1])
    if top:
        profile = cProfile.Profile(time.process_time)
        one(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(top)
    handle, verify = statistics.median(handle_us), statistics.median(verify_us)
    return {
        "messages": len(items),
        "handle_us": handle,
        "verify_us": verify,
        "beyond_b_us": handle - verify,
    }
