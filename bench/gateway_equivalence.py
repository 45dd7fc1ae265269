"""Old vs new gateway pipeline: the same input must give exactly the same outputs.

Speed work on the hot path (``gateway/verifier.py``, ``pairing.py``, ``processor.py`` ...)
must not change a single result. This feeds the throughput bench's stream (200 badges,
10 simulated minutes) plus about 10% of hostile messages (see ``garbage``), with two
registry refreshes (1 badge in 7 revoked, then restored), through the processor of a real
(not running) ``gateway.service.Gateway`` of two trees, in replay mode and with the live
clock, and compares every verdict (outcome, badge, seq, detail, the message's JSON), and
at every simulated checkpoint (each 200 messages) the meetings, check-in records,
snapshot, gauges, replay and contact change records, and at the end the flushed meetings,
the counters and the replay and contact bases. Each tree runs in its own process:

    git archive HEAD gateway | tar -x -C /tmp/old       # the code before the change
    .venv/bin/python -m bench.gateway_equivalence --old /tmp/old

Exit status 0 and "identical" when every output is equal; otherwise the first difference.
``--new`` defaults to this checkout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import pickle
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

Message = tuple[str, bytes]
ROOT = Path(__file__).resolve().parent.parent


class StepClock:
    """A wall clock set by the driver to each message's event time (live-clock mode)."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


def garbage(messages: list[Message], seed: int = 11) -> list[tuple[str, bytes, float]]:
    """The stream with ~10% hostile messages, each with the event time of the message it
    was made from (the live clock's time). Deterministic for ``seed``.

    Half are extra copies of a recent message (redelivered, bad signature, another event,
    unknown badge, junk topic, oversized, cut short, re-encoded: a replay); the other half
    replace the message with a validly signed variant under the same seq (cut JSON, wrong
    window length or boundary, body naming another badge or a bad event id, upper-case or
    newline-ended EphID, too many entries, unknown field, schema v2, stale or future window).
    """
    from bench.gateway_stream import EVENT, bundles_for
    from protocol.signing import BadgeKey, sign
    from protocol.topics import parse_badge_topic

    keys = {b.badge: BadgeKey(bytes.fromhex(b.signing_seed)).signer() for b in bundles_for(200)}
    rng = random.Random(seed)

    def resign(topic: str, body: dict[str, Any] | bytes, badge: str | None = None) -> Message:
        raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
        key = keys[badge or parse_badge_topic(topic).badge]
        return topic, sign(key, topic, raw) + raw

    def copy(topic: str, payload: bytes) -> Message:
        badge = parse_badge_topic(topic).badge
        kind = rng.randrange(8)
        if kind == 6:  # the same content in other bytes (fields reordered): a replay
            body = msgspec.json.decode(payload[64:])
            return resign(topic, dict(reversed(body.items())))
        if kind == 0:
            return topic, payload  # redelivery: a duplicate
        if kind == 1:
            return topic, bytes([payload[0] ^ 1]) + payload[1:]  # bad signature
        if kind == 2:
            body = msgspec.json.decode(payload[64:])
            other = topic.replace(f"/{EVENT}/", "/elsewhere/")
            return resign(other, {**body, "event": "elsewhere"}, badge)
        if kind == 3:
            return resign(topic.replace(badge, "b99999"), payload[64:], badge)
        if kind == 4:
            return rng.choice(["junk", "inperson/v1/x", topic + "/more"]), payload
        if kind == 5:
            return topic, payload + b" " * 9000  # oversized
        return topic, payload[:40]  # shorter than a signature

    def variant(topic: str, payload: bytes) -> Message:
        body: dict[str, Any] = msgspec.json.decode(payload[64:])
        heard = body.get("heard")
        badge = parse_badge_topic(topic).badge
        kind = rng.randrange(14)
        if kind == 0:
            return resign(topic, payload[64:-3])  # cut JSON
        if kind == 1:
            return resign(topic, {**body, "badge": "b00000" if badge != "b00000" else "b1"})
        if kind == 2:
            return resign(topic, {**body, "event": "bad event!"})
        if kind == 3:
            return resign(topic, {**body, "extra": 1})
        if kind == 4:
            return resign(topic, {**body, "v": 1})  # the previous report schema
        if heard is None:
            return topic, payload
        if kind == 5:
            return resign(topic, {**body, "window_len": body["window_len"] * 2})
        if kind == 6:
            return resign(topic, {**body, "window_start": body["window_start"] + 7})
        if kind == 7:
            return resign(topic, {**body, "window_start": body["window_start"] - 3600})
        if kind == 8:
            return resign(topic, {**body, "window_start": body["window_start"] + 120})
        if kind == 9 and heard:
            return resign(topic, {**body, "heard": heard * 65})
        # heard entries are arrays: [ephid, rssi_median, rssi_max, count]
        if kind == 10 and heard:
            heard = [[heard[0][0].upper(), *heard[0][1:]], *heard[1:]]
        elif kind == 11 and heard:
            heard = [[heard[0][0] + "\n", *heard[0][1:]], *heard[1:]]
        elif kind == 12 and heard:
            heard = [[heard[0][0][:31], *heard[0][1:]], *heard[1:]]
        elif kind == 13 and heard:
            heard = [*heard, [heard[0][0], -128, *heard[0][2:]]]
        return resign(topic, {**body, "heard": heard})

    out: list[tuple[str, bytes, float]] = []
    t = 0.0
    for i, (topic, payload) in enumerate(messages):
        t = _event_time(payload, t)
        if rng.random() < 0.05:
            out.append((*variant(topic, payload), t))
            continue
        out.append((topic, payload, t))
        if rng.random() < 0.05:
            out.append((*copy(*rng.choice(messages[max(0, i - 50) : i + 1])), t))
    return out


def run_tree(live_clock: bool) -> list[Any]:
    """Run the stream through this process's ``gateway``; return every output, in order."""
    from bench.gateway_driver import NO_BROKER, gateway_settings, server_stub
    from bench.gateway_stream import bench_nonce_bytes, bundles_for, registry_of, stream_of
    from gateway.journal import TinyDBJournal
    from gateway.service import Gateway
    from gateway.uplink import Uplink
    from protocol.api import Registry, RegistryBadge
    from protocol.encoding import encode_json

    registry = registry_of(bundles_for(200))
    stream = garbage(stream_of(bundles_for(200), 10.0, 7))
    revoked = Registry(
        event=registry.event,
        gateway=registry.gateway,
        zone=registry.zone,
        settings=registry.settings,
        badges=[
            RegistryBadge(
                badge=b.badge, public_key=b.public_key, ephid_key=b.ephid_key, revoked=i % 7 == 3
            )
            for i, b in enumerate(registry.badges)
        ],
    )
    clock = StepClock()
    out: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = gateway_settings(Path(tmp), NO_BROKER, live_clock=live_clock)  # type: ignore[arg-type]
        gateway = Gateway(
            settings,
            registry,
            Uplink(server_stub(registry), "http://stub", "token"),
            clock=clock,
            rng=random.Random(1),
            journal=TinyDBJournal(Path(tmp)),
            nonce_bytes=bench_nonce_bytes,
        )
        processor = gateway._processor
        if processor.readers is not None:
            processor.readers.rotate()
        for n, (topic, payload, t) in enumerate(stream, 1):
            if n == len(stream) // 3:
                processor.update_registry(revoked)
            elif n == 2 * len(stream) // 3:
                processor.update_registry(registry)
            clock.t = t
            v = processor.handle(topic, payload)
            message = encode_json(v.message) if v.message is not None else None
            out.append(("verdict", n, v.outcome, v.badge, v.seq, v.detail, message))
            if n % 200 == 0:
                out.append(_checkpoint(processor))
        out.append(_checkpoint(processor))
        meetings = [encode_json(m) for m in processor.flush()]
        out.append(("end", meetings, dict(processor.counters), processor.replay.dump()))
        out.append(("contacts", processor.take_contact_changes(), processor.dump_contacts()))
    return out


def _event_time(payload: bytes, previous: float) -> float:
    try:
        body = msgspec.json.decode(payload[64:])
        t = body.get("window_start", body.get("t"))
        return float(t) + 5.0 if isinstance(t, int) else previous
    except (msgspec.DecodeError, AttributeError):
        return previous


def _checkpoint(processor: Any) -> tuple[Any, ...]:
    from protocol.encoding import encode_json

    return (
        "checkpoint",
        [encode_json(m) for m in processor.take_meetings()],
        [encode_json(c) for c in processor.take_checkins()],
        json.dumps(processor.snapshot(), sort_keys=True),
        json.dumps(processor.gauges(), sort_keys=True),
        processor.replay.take_changes(),
        processor.take_contact_changes(),
    )


def compare(old: list[Any], new: list[Any]) -> str | None:
    """The first difference, or None."""
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return f"output {i} differs:\n old: {a!r:.600}\n new: {b!r:.600}"
    if len(old) != len(new):
        return f"{len(old)} outputs (old) vs {len(new)} (new)"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="tree holding the old gateway/")
    parser.add_argument("--new", type=Path, default=ROOT, help="tree holding the new gateway/")
    parser.add_argument("--child", choices=["replay", "live"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.disable(logging.WARNING)  # thousands of rejections: not what is compared
        args.out.write_bytes(pickle.dumps(run_tree(args.child == "live")))
        return
    failed = False
    for mode in ("replay", "live"):
        results = []
        for tree in (args.old, args.new):
            with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
                env = {**os.environ, "PYTHONPATH": f"{tree.resolve()}{os.pathsep}{ROOT}"}
                cmd = [sys.executable, "-m", "bench.gateway_equivalence", "--old", str(tree)]
                cmd += ["--child", mode, "--out", f.name]
                subprocess.run(cmd, env=env, cwd=tempfile.gettempdir(), check=True)
                results.append(pickle.loads(Path(f.name).read_bytes()))
        old, new = results
        verdicts = [o for o in old if o[0] == "verdict"]
        outcomes = sorted({v[2] for v in verdicts})
        digest = hashlib.sha256(pickle.dumps(new)).hexdigest()[:16]
        difference = compare(old, new)
        print(  # noqa: T201 - a benchmark reports on stdout
            f"{mode}: {len(verdicts)} messages, {len(old)} outputs, outcomes {outcomes}: "
            + ("identical" if difference is None else "DIFFERENT")
            + f" (sha256 {digest})"
        )
        if difference is not None:
            print(difference)  # noqa: T201
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
