"""The readers' checkpoint state is rebuilt, and encoded by the journal, only when it changed.

``Readers.snapshot()`` returns the same object until the state changes; every change
(a tap decided, nonces issued or forgotten, tap ids forgotten, journaled records replayed,
a restore) makes the next call build it anew. ``TinyDBJournal`` encodes a part of the
processing state that is the very object it wrote last time from its JSON of then, so the
state file's bytes are those of a plain encoding.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import journal as journal_module
from gateway.journal import STATE_FILE, TinyDBJournal
from gateway.reader_nonces import NoncePolicy
from gateway.readers import ReaderConfig, Readers
from protocol.api import CheckInRecord
from protocol.messages import CheckIn
from tests.unit.gateway.support import GATEWAY, T0, FakeClock

EVENT = "ev-readers-snapshot"
POLICY = NoncePolicy(interval_s=15.0, valid_s=60, memory_s=120.0)
READERS = [ReaderConfig("entrance", "lobby"), ReaderConfig("hall-a", "hall-a")]

taps = st.tuples(
    st.just("tap"),
    st.integers(0, 4),  # badge
    st.sampled_from(["entrance", "hall-a", "elsewhere"]),
    st.sampled_from(["entry", "exit"]),
    st.sampled_from(["newest", "oldest", "bogus"]),  # which nonce the badge quotes
)
others = st.one_of(
    st.tuples(st.just("advance"), st.integers(0, 200)),
    st.tuples(st.just("rotate")),
    st.tuples(st.just("replay"), st.integers(0, 4), st.sampled_from(["entry", "exit"])),
    st.tuples(st.just("restore")),
    st.tuples(st.just("merge")),
    st.tuples(st.just("take")),
)
operations = st.lists(st.one_of(taps, others), max_size=40)


def new_readers(clock: FakeClock) -> Readers:
    return Readers(EVENT, GATEWAY, READERS, clock, random.Random(3).randbytes, POLICY, Counter())


def apply(readers: Readers, clock: FakeClock, op: tuple[Any, ...], n: int) -> None:
    kind = op[0]
    if kind == "tap":
        _, badge, reader, direction, which = op
        nonces = readers.nonce_state().get(reader) or [["00" * 16, 0]]
        nonce = {"newest": nonces[-1][0], "oldest": nonces[0][0], "bogus": f"{n:032x}"}[which]
        readers.accept(
            CheckIn(
                event=EVENT,
                badge=f"b{badge:03d}",
                seq=n,
                reader=reader,
                nonce=nonce,
                t=int(clock.now()),
                direction=direction,
            )
        )
    elif kind == "advance":
        clock.t += op[1]
    elif kind == "rotate":
        readers.rotate()
    elif kind == "replay":
        _, badge, direction = op
        record = CheckInRecord(
            id=f"replayed-{n}",
            event=EVENT,
            badge=f"b{badge:03d}",
            reader="entrance",
            zone="lobby",
            direction=direction,
            t=int(clock.now()),
            received_at=int(clock.now()),
            outcome="accepted",
            gateway=GATEWAY,
        )
        readers.replay_records([record])
    elif kind == "restore":
        readers.restore(msgspec.json.decode(msgspec.json.encode(readers.fresh_snapshot())))
    elif kind == "merge":
        readers.merge_nonces({"entrance": [[f"{n:032x}", int(clock.now())]]})
    else:
        readers.take_records()


@settings(max_examples=150, deadline=None)
@given(ops=operations)
def test_the_snapshot_is_always_the_state_of_now(ops: list[tuple[Any, ...]]) -> None:
    clock = FakeClock()
    readers = new_readers(clock)
    readers.rotate()
    for n, op in enumerate(ops):
        before = readers.snapshot()
        apply(readers, clock, op, n)
        now = readers.snapshot()
        assert now == readers.fresh_snapshot(), op
        if now is before:  # kept: then nothing changed
            assert msgspec.json.encode(now) == msgspec.json.encode(readers.fresh_snapshot())


def test_the_snapshot_is_kept_while_nothing_changes() -> None:
    clock = FakeClock()
    readers = new_readers(clock)
    readers.rotate()
    first = readers.snapshot()
    clock.t += 5
    readers.rotate()  # nothing due, nothing forgotten
    assert readers.snapshot() is first
    clock.t += 15
    readers.rotate()  # a new nonce
    assert readers.snapshot() is not first
    assert readers.snapshot() == readers.fresh_snapshot()


def state_of(processing: dict[str, Any]) -> dict[str, Any]:
    return {"version": 2, "event": EVENT, **processing}


def test_the_journal_encodes_a_part_again_only_when_it_is_another_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[object] = []
    real = msgspec.json.encode

    def counting(value: Any, *args: Any, **kwargs: Any) -> bytes:
        encoded.append(value)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(journal_module.msgspec.json, "encode", counting)
    journal = TinyDBJournal(tmp_path)
    journal.open()
    readers = {"nonces": {"entrance": [["ab" * 16, T0]]}, "inside": {}, "seen": [["x", 1.5]]}
    for step in range(3):
        journal.checkpoint([], state_of({"counters": {"received": step}, "readers": readers}))
    assert sum(value is readers for value in encoded) == 1
    changed = {**readers, "inside": {"lobby": ["b001"]}}
    journal.checkpoint([], state_of({"counters": {"received": 9}, "readers": changed}))
    assert sum(value is changed for value in encoded) == 1
    # the file holds the last state, byte for byte as a plain encoding of it
    raw = (tmp_path / STATE_FILE).read_bytes()
    document = msgspec.json.decode(raw)
    assert document["state"]["1"]["processing"] == state_of(
        {"counters": {"received": 9}, "readers": changed}
    )
    assert raw == real(document)
    journal.close()
    reopened = TinyDBJournal(tmp_path)
    reopened.open()
    assert reopened.load_state() == state_of({"counters": {"received": 9}, "readers": changed})
    reopened.close()


@settings(max_examples=40, deadline=None)
@given(
    states=st.lists(
        st.dictionaries(
            st.sampled_from(["counters", "readers", "verifier"]),
            st.one_of(
                st.integers(),
                st.lists(st.integers(), max_size=3),
                st.dictionaries(st.text(max_size=3), st.floats(allow_nan=False), max_size=3),
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    reuse=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_the_state_file_is_a_plain_encoding_of_the_last_state(
    tmp_path_factory: pytest.TempPathFactory, states: list[dict[str, Any]], reuse: list[bool]
) -> None:
    directory = tmp_path_factory.mktemp("journal")
    journal = TinyDBJournal(directory)
    journal.open()
    last: dict[str, Any] = {}
    for state, keep in zip(states, reuse, strict=False):
        # parts kept from the previous checkpoint are the very same objects
        processing = {**state, **({k: v for k, v in last.items() if k in state} if keep else {})}
        journal.checkpoint([], processing)
        last = processing
    raw = (directory / STATE_FILE).read_bytes()
    document = msgspec.json.decode(raw)
    assert document["state"]["1"]["processing"] == msgspec.json.decode(msgspec.json.encode(last))
    assert raw == msgspec.json.encode(document)
    journal.close()
