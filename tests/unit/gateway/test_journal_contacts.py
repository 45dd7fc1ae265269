"""The contact state in the journal: base + append-only log, valid only up to the checkpoint.

A checkpoint writes only the contact changes since the last one (pending half-contacts,
taps, open windows); after a reopen, the processor loads exactly the contact state of the
last checkpoint that returned. A kill mid-append leaves a torn or garbage tail after the
committed length: cut off on open. Damage to committed bytes (a log or base missing or
cut short) is detected and logged at ERROR, and a record cut in the middle is refused.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.journal import CONTACTS, Journal, TinyDBJournal
from gateway.memory_journal import MemoryJournal
from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, badges, registry_for

EVENT = "ev-contacts"
SEGMENT = 300


class Site:
    """A processor and its journal, checkpointed the way the gateway service does it."""

    def __init__(self, journal: Journal, members: list[TestBadge]) -> None:
        self.journal = journal
        self.members = members
        self.registry = BadgeRegistry(registry_for(EVENT, members))
        self.processor = Processor(self.registry, FakeClock())
        self.unsaved = bytearray()
        self.replay_unsaved = bytearray()
        self.base_due = True

    def talk(self, window: int, pairs: list[tuple[int, int]], one_sided: bool = False) -> None:
        """Every badge reports window ``window``; pairs hear each other (or only the first)."""
        heard: dict[int, list[tuple[TestBadge, int]]] = {}
        for i, j in pairs:
            heard.setdefault(i, []).append((self.members[j], -60))
            if not one_sided:
                heard.setdefault(j, []).append((self.members[i], -58))
        for i, member in enumerate(self.members):
            verdict = self.processor.handle(*member.report(T0 + window * WINDOW, heard.get(i, [])))
            assert verdict.is_accepted

    def stage(self, base: bool = False) -> bytes:
        """The first half of a checkpoint: the contact changes appended, nothing committed."""
        self.unsaved += self.processor.take_contact_changes()
        self.replay_unsaved += self.processor.replay.take_changes()
        changes = bytes(self.unsaved)
        is_base = base or self.base_due or self.journal.contacts_needs_base()
        dump = self.processor.dump_contacts() if is_base else None
        self.journal.save_replay(bytes(self.replay_unsaved))
        self.journal.save_contacts(changes, dump)
        return changes

    def checkpoint(self, base: bool = False) -> dict[str, Any]:
        """A whole checkpoint; returns what recovery must give back."""
        self.processor.take_meetings()
        state = self.processor.snapshot()
        had_base = base or self.base_due or self.journal.contacts_needs_base()
        self.stage(base)
        self.journal.checkpoint([], state)
        self.unsaved.clear()
        self.replay_unsaved.clear()
        self.base_due = self.base_due and not had_base
        return expected_of(self.processor)


def expected_of(processor: Processor) -> dict[str, Any]:
    contacts = processor.contact_snapshot()
    contacts["pairing"]["taps"].sort()
    return {"state": processor.snapshot(), "contacts": contacts}


def recovered(journal: Journal, members: list[TestBadge]) -> Processor:
    """What a restarted gateway resumes with (``gateway.recovery.restore_state``)."""
    journal.close()
    journal.open()
    processor = Processor(BadgeRegistry(registry_for(EVENT, members)), FakeClock())
    state = journal.load_state()
    assert state is not None
    processor.restore(state)
    processor.replay.load(*journal.load_replay())
    processor.load_contacts(*journal.load_contacts())
    return processor


@pytest.fixture
def members() -> list[TestBadge]:
    return badges(EVENT, 6)


@pytest.fixture(params=["memory", "tinydb"])
def site(request: pytest.FixtureRequest, tmp_path: Path, members: list[TestBadge]) -> Site:
    journal: Journal = (
        MemoryJournal(SEGMENT)
        if request.param == "memory"
        else TinyDBJournal(tmp_path / "journal", SEGMENT)
    )
    journal.open()
    return Site(journal, members)


def test_a_checkpoint_writes_only_the_changes(site: Site, members: list[TestBadge]) -> None:
    site.talk(0, [(0, 1), (2, 3)])
    site.talk(1, [(0, 1), (2, 3), (4, 5)], one_sided=True)
    site.checkpoint()
    base, log = site.journal.load_contacts()
    assert base and log == b""  # the first checkpoint writes a base
    site.talk(2, [(0, 1)])
    changes = site.processor.pending_contact_changes
    assert 0 < changes < len(base)
    expected = site.checkpoint()
    same_base, log = site.journal.load_contacts()
    assert same_base == base and len(log) == changes
    assert expected_of(recovered(site.journal, members)) == expected


def test_staged_changes_count_only_once_their_checkpoint_returned(
    site: Site, members: list[TestBadge]
) -> None:
    site.talk(0, [(0, 1), (2, 3)])
    expected = site.checkpoint()
    site.talk(1, [(0, 2), (1, 3)])
    site.stage()  # appended, then killed before the state write
    assert expected_of(recovered(site.journal, members)) == expected


def test_a_new_base_replaces_the_log_and_later_changes_follow_it(
    site: Site, members: list[TestBadge]
) -> None:
    for window in range(4):
        site.talk(window, [(0, 1), (2, 3)])
        site.checkpoint()
    site.talk(4, [(0, 1), (4, 5)])
    site.checkpoint(base=True)
    assert site.journal.load_contacts()[1] == b""
    site.talk(5, [(0, 1), (4, 5)])
    expected = site.checkpoint()
    assert expected_of(recovered(site.journal, members)) == expected


def test_an_older_journal_with_the_contacts_in_its_state_still_resumes(
    members: list[TestBadge],
) -> None:
    site = Site(MemoryJournal(SEGMENT), members)
    site.journal.open()
    site.talk(0, [(0, 1), (2, 3)])
    site.talk(1, [(0, 1)], one_sided=True)
    old_state = {**site.processor.snapshot(), "version": 1, **site.processor.contact_snapshot()}
    processor = Processor(site.registry, FakeClock())
    processor.restore(old_state)
    assert expected_of(processor)["contacts"] == expected_of(site.processor)["contacts"]
    assert processor.pending_contact_changes == 0  # the next checkpoint writes a base


# --- on disk: torn and garbage tails, missing and damaged files -----------------------


@pytest.fixture
def disk(tmp_path: Path, members: list[TestBadge]) -> Site:
    journal = TinyDBJournal(tmp_path / "journal", SEGMENT)
    journal.open()
    return Site(journal, members)


def contact_log(journal: TinyDBJournal) -> Path:
    pointer = journal_pointer(journal)
    return journal.directory / f"{CONTACTS}-{pointer['gen']:012d}.log"


def journal_pointer(journal: TinyDBJournal) -> dict[str, int]:
    state = (journal.directory / "state.json").read_bytes()
    doc = msgspec.json.decode(state)["state"]["1"]
    return dict(doc[CONTACTS])


def copy_of(journal: TinyDBJournal, target: Path) -> TinyDBJournal:
    shutil.copytree(journal.directory, target)
    copy = TinyDBJournal(target, SEGMENT)
    copy.open()
    return copy


def test_a_kill_mid_append_at_every_byte_leaves_the_last_checkpoint(
    disk: Site, members: list[TestBadge], tmp_path: Path
) -> None:
    disk.talk(0, [(0, 1), (2, 3)])
    disk.checkpoint()
    disk.talk(1, [(0, 1), (2, 3)], one_sided=True)
    expected = disk.checkpoint()
    assert isinstance(disk.journal, TinyDBJournal)
    committed = journal_pointer(disk.journal)["log"]
    disk.talk(2, [(4, 5)], one_sided=True)  # the last record(s): two half-contacts
    torn = disk.stage()
    assert torn and contact_log(disk.journal).stat().st_size == committed + len(torn)
    disk.journal.close()
    for cut in range(len(torn) + 1):
        copy = copy_of(disk.journal, tmp_path / f"cut{cut}")
        os.truncate(contact_log(copy), committed + cut)
        assert expected_of(recovered(copy, members)) == expected, cut
        assert contact_log(copy).stat().st_size == committed  # the tail was cut off


def test_a_garbage_tail_is_cut_off(disk: Site, members: list[TestBadge]) -> None:
    disk.talk(0, [(0, 1), (2, 3)])
    disk.checkpoint()
    disk.talk(1, [(0, 1)], one_sided=True)
    expected = disk.checkpoint()
    assert isinstance(disk.journal, TinyDBJournal)
    with open(contact_log(disk.journal), "ab") as handle:
        handle.write(b"\xffgarbage that no checkpoint committed\x00" * 3)
    assert expected_of(recovered(disk.journal, members)) == expected


def test_damage_to_committed_bytes_is_detected(
    disk: Site, members: list[TestBadge], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    disk.talk(0, [(0, 1), (2, 3)])
    disk.checkpoint()
    disk.talk(1, [(0, 1), (2, 3)], one_sided=True)
    disk.checkpoint()
    assert isinstance(disk.journal, TinyDBJournal)
    committed = journal_pointer(disk.journal)["log"]
    disk.journal.close()
    caplog.set_level(logging.ERROR, logger="gateway.changelog")
    # the committed log cut short by 1..40 bytes: logged; a record cut in the middle refused
    refused = 0
    for cut in range(1, 41):
        caplog.clear()
        copy = copy_of(disk.journal, tmp_path / f"cut{cut}")
        copy.close()
        os.truncate(contact_log(copy), committed - cut)
        copy.open()
        assert any("were committed" in r.getMessage() for r in caplog.records), cut
        try:
            Processor(disk.registry, FakeClock()).load_contacts(*copy.load_contacts())
        except ValueError as exc:
            assert "cut off" in str(exc)
            refused += 1
    assert refused >= 40 - 3  # at most a few cuts fall between two records
    # a missing log or base: logged
    for kind in ("log", "base"):
        caplog.clear()
        copy = copy_of(disk.journal, tmp_path / f"missing-{kind}")
        gen = journal_pointer(copy)["gen"]
        (copy.directory / f"{CONTACTS}-{gen:012d}.{kind}").unlink()
        copy.close()
        copy.open()
        assert any("were committed" in r.getMessage() for r in caplog.records), kind


def test_the_contact_files_stay_bounded_while_history_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partners change every 3 windows, meetings close all along; the log is compacted."""
    monkeypatch.setattr("gateway.changelog.MIN_COMPACT_BYTES", 4096)
    members = badges(EVENT, 8)
    site = Site(TinyDBJournal(tmp_path / "journal", SEGMENT), members)
    site.journal.open()
    assert isinstance(site.journal, TinyDBJournal)
    sizes: list[int] = []
    bases = 0
    for window in range(180):
        shift = 1 + (window // 3) % 7
        site.talk(window, [(i, i ^ shift) for i in range(8) if i < i ^ shift])
        expected = site.checkpoint()
        base, log = site.journal.contact_sizes()
        bases += log == 0
        sizes.append(base + log)
    assert site.processor.counters["meetings"] >= 150  # history grew
    assert bases >= 10  # compacted again and again
    largest_base = max(len(site.processor.dump_contacts()), 4096)
    assert max(sizes[90:]) <= 3 * largest_base, max(sizes[90:])
    assert max(sizes[90:]) <= 1.2 * max(sizes[:90])  # no growth with history
    assert expected_of(recovered(site.journal, members)) == expected
