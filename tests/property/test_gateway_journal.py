"""Journal state machine: put / peek / ack / reopen against a list model, for both journals."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gateway.journal import Journal, TinyDBJournal
from gateway.memory_journal import MemoryJournal
from protocol.api import Meeting
from protocol.ids import meeting_id

SEGMENT = 300


def meeting(n: int) -> Meeting:
    """Meeting n; its last_seen puts meetings 0-2 in segment 0, 3-5 in segment 1, ..."""
    return Meeting(
        id=meeting_id("proximity", "ev", "a", f"b{n}", n),
        event="ev",
        kind="proximity",
        badge_a="a",
        badge_b=f"b{n}",
        first_seen=n,
        last_seen=100 * n,
        contact_seconds=60,
        windows=3,
        gateway="gw",
    )


class JournalMachine(RuleBasedStateMachine):
    """The model: per segment, the meetings in journal order with a forwarded flag."""

    def __init__(self) -> None:
        super().__init__()
        self.segments: dict[int, list[list[Any]]] = {}
        self.state: dict[str, Any] | None = None
        self.steps = 0
        self.journal = self.open_journal()

    def open_journal(self) -> Journal:
        raise NotImplementedError

    def reopened(self) -> Journal:
        raise NotImplementedError

    def known(self) -> set[str]:
        return {entry[0].id for entries in self.segments.values() for entry in entries}

    def unforwarded(self) -> list[Meeting]:
        return [
            meeting
            for index in sorted(self.segments)
            for meeting, forwarded in self.segments[index]
            if not forwarded
        ]

    @rule(numbers=st.lists(st.integers(0, 20), max_size=8))
    def put(self, numbers: list[int]) -> None:
        self.steps += 1
        state = {"step": self.steps, "numbers": numbers}
        self.journal.checkpoint([meeting(n) for n in numbers], state)
        self.state = state
        for n in numbers:
            if meeting(n).id not in self.known():
                self.segments.setdefault(100 * n // SEGMENT, []).append([meeting(n), False])
        self.mark(set())  # a newer segment may make a finished one deletable

    @rule(n=st.integers(0, 25))
    def peek(self, n: int) -> None:
        assert self.journal.peek_batch(n) == self.unforwarded()[:n]

    @rule(n=st.integers(0, 10))
    def ack_batch(self, n: int) -> None:
        """What the forwarder does: ack exactly what it peeked."""
        batch = self.journal.peek_batch(n)
        assert self.journal.ack([m.id for m in batch]) == len(batch)
        self.mark({m.id for m in batch})

    @rule(numbers=st.lists(st.integers(0, 22), max_size=6))
    def ack_any(self, numbers: list[int]) -> None:
        ids = {meeting(n).id for n in numbers}
        pending = {m.id for m in self.unforwarded()}
        assert self.journal.ack(sorted(ids)) == len(ids & pending)
        self.mark(ids)

    def mark(self, ids: set[str]) -> None:
        for entries in self.segments.values():
            for entry in entries:
                if entry[0].id in ids:
                    entry[1] = True
        if self.segments:
            newest = max(self.segments)
            for index in list(self.segments):
                if index < newest and all(f for _, f in self.segments[index]):
                    del self.segments[index]

    @rule()
    def reopen(self) -> None:
        self.journal = self.reopened()

    @invariant()
    def counts_and_state_agree(self) -> None:
        assert self.journal.unforwarded() == len(self.unforwarded())
        assert self.journal.load_state() == self.state


class MemoryJournalMachine(JournalMachine):
    def open_journal(self) -> Journal:
        journal = MemoryJournal(SEGMENT)
        journal.open()
        return journal

    def reopened(self) -> Journal:
        self.journal.close()
        self.journal.open()
        return self.journal


class TinyDBJournalMachine(JournalMachine):
    def open_journal(self) -> Journal:
        self.directory = Path(tempfile.mkdtemp(prefix="journal-machine-"))
        journal = TinyDBJournal(self.directory, SEGMENT)
        journal.open()
        return journal

    def reopened(self) -> Journal:
        self.journal.close()
        journal = TinyDBJournal(self.directory, SEGMENT)
        journal.open()
        return journal

    @invariant()
    def only_live_segments_have_files(self) -> None:
        files = sorted(p.name for p in self.directory.glob("segment-*.json"))
        expected = sorted(f"segment-{i:012d}.json" for i in self.segments)
        # a segment file exists from its first write; finished ones are deleted
        assert files == expected

    def teardown(self) -> None:
        self.journal.close()
        shutil.rmtree(self.directory, ignore_errors=True)


TestMemoryJournal = MemoryJournalMachine.TestCase
TestMemoryJournal.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestTinyDBJournal = TinyDBJournalMachine.TestCase
TestTinyDBJournal.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
