"""Contact state machine: random traffic, checkpoints and kills; recovery equals the model.

The machine feeds a real ``Processor`` signed reports and tap halves (pending halves,
contacts, open windows, closed meetings, expiry by the watermark), checkpoints it into a
real ``TinyDBJournal`` the way the gateway service does (only the changes since the last
checkpoint, a base now and then), and kills it at random: after a clean kill, after one
whose checkpoint appended its changes but never wrote the state, with the last append
cut at any byte, or followed by garbage. A restart from disk must give back exactly the
state of the last checkpoint that returned (contact state, counters, watermark, replay).

``os.fsync`` is a no-op here: it matters for power loss, which a test cannot simulate,
while what a killed process leaves (the bytes written so far) does not depend on it; with
real fsyncs this machine spends most of its time waiting for the disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from gateway.journal import CONTACTS, TinyDBJournal
from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from protocol.api import DetectionSettings
from tests.unit.gateway.support import T0, WINDOW, FakeClock, badges, registry_for, transcript

EVENT = "ev-machine"
BADGES = 5
# short meetings, no gap tolerance and no lateness: runs close and halves expire two
# windows after their last window, so that short rule sequences reach every kind of change
SETTINGS = DetectionSettings(
    min_meeting_seconds=20, gap_tolerance_seconds=0, allowed_lateness_seconds=0
)
REGISTRY = registry_for(EVENT, badges(EVENT, BADGES), settings=SETTINGS)

badge_index = st.integers(0, BADGES - 1)


def observed(processor: Processor) -> dict[str, Any]:
    """Everything a checkpoint must preserve, in a comparable form."""
    contacts = processor.contact_snapshot()
    contacts["pairing"]["taps"].sort()
    return {
        "state": processor.snapshot(),
        "contacts": contacts,
        "replay": processor.replay.dump(),
    }


class ContactMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.no_fsync = mock.patch("os.fsync")
        self.no_fsync.start()
        self.root = Path(tempfile.mkdtemp(prefix="contacts-"))
        self.journal = TinyDBJournal(self.root / "journal", 300)
        self.journal.open()
        self.members = badges(EVENT, BADGES)
        self.processor = self.new_processor()
        self.window = 0
        self.unsaved = bytearray()
        self.replay_unsaved = bytearray()
        self.base_due = True
        self.expected: dict[str, Any] | None = None
        self.kills = 0

    def new_processor(self) -> Processor:
        return Processor(BadgeRegistry(REGISTRY), FakeClock())

    @initialize()
    def start(self) -> None:
        self.checkpoint(base=False)

    # --- traffic -------------------------------------------------------------------

    @rule(
        i=badge_index,
        back=st.integers(0, 2),
        heard=st.lists(st.tuples(badge_index, st.integers(-90, -40)), max_size=3),
    )
    def report(self, i: int, back: int, heard: list[tuple[int, int]]) -> None:
        window = T0 + WINDOW * max(0, self.window - back)
        others = [(self.members[j], rssi) for j, rssi in heard if j != i]
        self.processor.handle(*self.members[i].report(window, others))

    @rule(
        pairs=st.lists(st.tuples(badge_index, badge_index), min_size=1, max_size=3),
        windows=st.integers(1, 4),
    )
    def everyone_reports(self, pairs: list[tuple[int, int]], windows: int) -> None:
        """Whole windows of mutual sightings; event time moves on (meetings close)."""
        heard: dict[int, list[Any]] = {}
        for i, j in pairs:
            if i != j:
                heard.setdefault(i, []).append((self.members[j], -60))
                heard.setdefault(j, []).append((self.members[i], -61))
        for _ in range(windows):
            for i, member in enumerate(self.members):
                at = T0 + WINDOW * self.window
                self.processor.handle(*member.report(at, heard.get(i, [])))
            self.window += 1

    @rule(
        i=badge_index,
        j=badge_index,
        back=st.integers(0, 2),
        halves=st.sampled_from(["a", "b", "both"]),
    )
    def tap(self, i: int, j: int, back: int, halves: str) -> None:
        """One or both halves of a tap (the second half may also come in a later step)."""
        if i == j:
            return
        a, b = self.members[i], self.members[j]
        talk = transcript(a, b, T0 + WINDOW * max(0, self.window - back))
        for sender in {"a": [a], "b": [b], "both": [a, b]}[halves]:
            self.processor.handle(*sender.tap(talk))

    # --- checkpoints and kills -------------------------------------------------------

    def stage(self, base: bool) -> tuple[bytes, bool]:
        self.unsaved += self.processor.take_contact_changes()
        self.replay_unsaved += self.processor.replay.take_changes()
        is_base = base or self.base_due or self.journal.contacts_needs_base()
        dump = self.processor.dump_contacts() if is_base else None
        replay_base = self.base_due or self.journal.replay_needs_base()
        self.journal.save_replay(
            bytes(self.replay_unsaved), self.processor.replay.dump() if replay_base else None
        )
        self.journal.save_contacts(bytes(self.unsaved), dump)
        return bytes(self.unsaved), is_base

    @rule(base=st.booleans())
    def checkpoint(self, base: bool) -> None:
        self.processor.take_meetings()
        state = self.processor.snapshot()
        _, is_base = self.stage(base)
        self.journal.checkpoint([], state)
        self.unsaved.clear()
        self.replay_unsaved.clear()
        self.base_due = self.base_due and not is_base
        self.expected = observed(self.processor)
        # what a kill right now would resume with (read from disk by a second journal)
        assert observed(self.recovered(TinyDBJournal(self.root / "journal", 300))) == (
            self.expected
        )
        # records applied twice in order (a cancelled checkpoint that did commit, then
        # staged again) change nothing: every record sets what it touches
        base, log = self.journal.load_contacts()
        twice = self.new_processor()
        twice.load_contacts(base, log + log)
        assert observed(twice)["contacts"] == self.expected["contacts"]

    @rule()
    def kill(self) -> None:
        self.restart()

    @rule(data=st.data())
    def kill_mid_checkpoint(self, data: st.DataObject) -> None:
        """Killed after appending the changes, before the state write; the tail is cut."""
        self.processor.take_meetings()
        pointer = self.pointer()
        staged, is_base = self.stage(base=False)
        if not is_base and staged:
            log = self.root / "journal" / f"{CONTACTS}-{pointer['gen']:012d}.log"
            assert log.stat().st_size == pointer["log"] + len(staged)
            cut = data.draw(st.integers(0, len(staged)), label="cut")
            os.truncate(log, pointer["log"] + cut)
            if data.draw(st.booleans(), label="garbage"):
                with open(log, "ab") as handle:
                    handle.write(data.draw(st.binary(min_size=1, max_size=40), label="tail"))
        self.restart()

    def pointer(self) -> dict[str, int]:
        doc = msgspec.json.decode((self.root / "journal" / "state.json").read_bytes())
        return dict(doc["state"]["1"][CONTACTS])

    def recovered(self, journal: TinyDBJournal) -> Processor:
        """What a gateway restarted on ``journal`` resumes with (``recovery.restore_state``)."""
        journal.open()
        try:
            processor = self.new_processor()
            state = journal.load_state()
            assert state is not None
            processor.restore(state)
            processor.replay.load(*journal.load_replay())
            processor.load_contacts(*journal.load_contacts())
            return processor
        finally:
            journal.close()

    def restart(self) -> None:
        self.kills += 1
        self.journal.close()
        processor = self.recovered(self.journal)
        self.journal.open()
        assert observed(processor) == self.expected
        # the messages after the checkpoint are gone with the process (the broker would
        # redeliver them); go on from the recovered state, as the gateway does
        self.processor = processor
        self.unsaved.clear()
        self.replay_unsaved.clear()
        self.base_due = True
        self.members = badges(EVENT, BADGES)
        for member in self.members:
            member.seq = 10_000 * self.kills  # fresh seqs: no replays of lost messages

    def teardown(self) -> None:
        self.journal.close()
        shutil.rmtree(self.root, ignore_errors=True)
        self.no_fsync.stop()


ContactMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestContactMachine = ContactMachine.TestCase
