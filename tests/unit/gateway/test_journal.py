"""Journal: one suite over MemoryJournal and TinyDBJournal, plus the TinyDB files themselves."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.errors import CorruptJournalFile, JournalError
from gateway.journal import STATE_FILE, AtomicJSONStorage, Journal, TinyDBJournal
from gateway.memory_journal import MemoryJournal
from protocol.api import Meeting
from protocol.ids import meeting_id

SEGMENT = 300


def meeting(n: int, last_seen: int | None = None) -> Meeting:
    first = 1000 + 20 * n
    return Meeting(
        id=meeting_id("proximity", "ev", "a", f"b{n}", first),
        event="ev",
        kind="proximity",
        badge_a="a",
        badge_b=f"b{n}",
        first_seen=first,
        last_seen=first + 60 if last_seen is None else last_seen,
        contact_seconds=60,
        windows=3,
        gateway="gw",
        zone="Hall A",
        rssi_median_dbm=-60,
    )


Reopen = Callable[[Journal], Journal]


@pytest.fixture(params=["memory", "tinydb"])
def journal_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def journal_and_reopen(journal_kind: str, tmp_path: Path) -> Iterator[tuple[Journal, Reopen]]:
    """A fresh open journal, and a function that closes it and opens it again from storage."""
    opened: list[Journal] = []

    def build() -> Journal:
        journal: Journal = (
            MemoryJournal(SEGMENT)
            if journal_kind == "memory"
            else TinyDBJournal(tmp_path / "journal", SEGMENT)
        )
        journal.open()
        opened.append(journal)
        return journal

    def reopen(journal: Journal) -> Journal:
        journal.close()
        if journal_kind == "memory":
            journal.open()
            return journal
        return build()

    yield build(), reopen
    for journal in opened:
        journal.close()


def test_checkpoint_then_peek_and_ack_in_order(journal_and_reopen: tuple[Journal, Reopen]) -> None:
    journal, _ = journal_and_reopen
    meetings = [meeting(i) for i in range(5)]
    journal.checkpoint(meetings, {"n": 1})
    assert journal.unforwarded() == 5
    assert journal.peek_batch(3) == meetings[:3]
    assert journal.peek_batch(3) == meetings[:3]  # peek does not consume
    assert journal.ack([m.id for m in meetings[:3]]) == 3
    assert journal.peek_batch(10) == meetings[3:]
    assert journal.unforwarded() == 2


def test_state_survives_reopen(journal_and_reopen: tuple[Journal, Reopen]) -> None:
    journal, reopen = journal_and_reopen
    assert journal.load_state() is None
    state = {"counters": {"received": 3}, "pairs": [["a", "b", [[20, -60, -61]]]]}
    journal.checkpoint([meeting(1)], state)
    journal.checkpoint([], {**state, "counters": {"received": 4}})
    journal = reopen(journal)
    assert journal.load_state() == {**state, "counters": {"received": 4}}
    assert journal.peek_batch(5) == [meeting(1)]


def test_forwarding_progress_survives_reopen(journal_and_reopen: tuple[Journal, Reopen]) -> None:
    journal, reopen = journal_and_reopen
    meetings = [meeting(i) for i in range(6)]
    journal.checkpoint(meetings, {})
    journal.ack([meetings[0].id, meetings[2].id])  # out of order on purpose
    journal = reopen(journal)
    assert journal.peek_batch(10) == [meetings[1]] + meetings[3:]
    assert journal.unforwarded() == 4


def test_known_ids_are_not_journaled_twice(journal_and_reopen: tuple[Journal, Reopen]) -> None:
    journal, reopen = journal_and_reopen
    journal.checkpoint([meeting(1), meeting(1), meeting(2)], {})
    journal.checkpoint([meeting(2), meeting(3)], {})
    journal = reopen(journal)
    journal.checkpoint([meeting(1)], {})
    assert [m.badge_b for m in journal.peek_batch(10)] == ["b1", "b2", "b3"]


def test_acking_unknown_or_repeated_ids_changes_nothing(
    journal_and_reopen: tuple[Journal, Reopen],
) -> None:
    journal, _ = journal_and_reopen
    journal.checkpoint([meeting(1), meeting(2)], {})
    assert journal.ack(["0" * 32]) == 0
    assert journal.ack([meeting(1).id]) == 1
    assert journal.ack([meeting(1).id]) == 0
    assert journal.unforwarded() == 1


def test_segments_go_oldest_first_and_are_dropped_once_forwarded(
    journal_and_reopen: tuple[Journal, Reopen], journal_kind: str, tmp_path: Path
) -> None:
    journal, reopen = journal_and_reopen
    old, mid, new = meeting(1, 100), meeting(2, 400), meeting(3, 700)
    journal.checkpoint([new, old], {})
    journal.checkpoint([mid], {})
    assert journal.peek_batch(10) == [old, mid, new]
    journal.ack([new.id])  # the newest segment is current: kept even when done
    journal.ack([old.id])
    segments = journal.segments()  # type: ignore[attr-defined]
    assert segments == [1, 2]
    journal.ack([mid.id])
    assert journal.segments() == [2]  # type: ignore[attr-defined]
    assert journal.peek_batch(10) == []
    if journal_kind == "tinydb":
        names = sorted(p.name for p in (tmp_path / "journal").iterdir())
        assert names == ["segment-000000000002.json", STATE_FILE]
    journal = reopen(journal)
    assert journal.peek_batch(10) == [] and journal.unforwarded() == 0


def test_state_must_be_json_ready(journal_and_reopen: tuple[Journal, Reopen]) -> None:
    journal, _ = journal_and_reopen
    with pytest.raises((JournalError, TypeError)):
        journal.checkpoint([], {"bad": object()})


# --- TinyDB files ----------------------------------------------------------------------


def test_files_are_plain_tinydb_json(tmp_path: Path) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    journal.checkpoint([meeting(1), meeting(2)], {"k": [1, 2]})
    journal.close()
    segment = json.loads((tmp_path / "segment-000000000003.json").read_text())
    assert [doc["badge_b"] for doc in segment["meetings"].values()] == ["b1", "b2"]
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["state"]["1"]["processing"] == {"k": [1, 2]}
    assert not list(tmp_path.glob(".*.tmp"))


def test_one_write_per_file_per_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    writes: list[str] = []
    original = AtomicJSONStorage.write

    def counting(self: AtomicJSONStorage, data: dict[str, dict[str, object]]) -> None:
        writes.append(self._path.name)
        original(self, data)

    monkeypatch.setattr(AtomicJSONStorage, "write", counting)
    for round_ in range(3):
        writes.clear()
        batch = [meeting(i, 100 + 300 * (i % 2)) for i in range(40 * round_, 40 * round_ + 40)]
        journal.checkpoint(batch, {"s": round_})
        assert sorted(writes) == [
            "segment-000000000000.json",
            "segment-000000000001.json",
            STATE_FILE,
        ]
    writes.clear()
    journal.ack([m.id for m in journal.peek_batch(10)])
    assert writes == [STATE_FILE]
    journal.close()


def test_a_stray_temporary_file_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    journal.checkpoint([meeting(1)], {"s": 1})
    journal.close()
    stray = tmp_path / ".segment-000000000003.json.abc123.tmp"
    stray.write_bytes(b'{"meetings": {"1": {"id": "')  # a write cut off before the rename
    with caplog.at_level(logging.ERROR, logger="gateway.journal"):
        journal = TinyDBJournal(tmp_path, SEGMENT)
        journal.open()
    assert not stray.exists()
    assert (tmp_path / (stray.name + ".corrupt")).exists()
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert journal.peek_batch(5) == [meeting(1)] and journal.load_state() == {"s": 1}
    journal.close()


@pytest.mark.parametrize("cut", [0, 1, 17, -1])
def test_a_truncated_segment_is_moved_aside_and_the_rest_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cut: int
) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    journal.checkpoint([meeting(1, 100), meeting(2, 700)], {"s": 1})
    journal.close()
    damaged = tmp_path / "segment-000000000000.json"
    data = damaged.read_bytes()
    damaged.write_bytes(data[:cut])
    with caplog.at_level(logging.ERROR, logger="gateway.journal"):
        journal = TinyDBJournal(tmp_path, SEGMENT)
        journal.open()
    assert (tmp_path / "segment-000000000000.json.corrupt").read_bytes() == data[:cut]
    assert not damaged.exists()
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    assert journal.peek_batch(5) == [meeting(2, 700)]
    journal.checkpoint([meeting(3, 100)], {"s": 2})  # the segment is usable again
    assert journal.peek_batch(5) == [meeting(3, 100), meeting(2, 700)]
    journal.close()


def test_a_truncated_state_file_is_moved_aside(tmp_path: Path) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    journal.checkpoint([meeting(1)], {"s": 1})
    journal.ack([meeting(1).id])
    journal.close()
    state = tmp_path / STATE_FILE
    state.write_bytes(state.read_bytes()[:10])
    for _ in range(2):  # a second corrupt copy must not overwrite the first
        journal = TinyDBJournal(tmp_path, SEGMENT)
        journal.open()
        assert journal.load_state() is None
        # the cursor was lost with it: the meeting is forwarded again (the server dedups)
        assert journal.peek_batch(5) == [meeting(1)]
        journal.close()
        state.write_bytes(b"{")
    assert (tmp_path / (STATE_FILE + ".corrupt")).exists()
    assert (tmp_path / (STATE_FILE + ".1.corrupt")).exists()


def test_storage_reads_missing_as_empty_and_refuses_non_tinydb_json(tmp_path: Path) -> None:
    storage = AtomicJSONStorage(tmp_path / "x.json")
    assert storage.read() is None
    storage.write({"t": {"1": {"a": 1}}})
    assert storage.read() == {"t": {"1": {"a": 1}}}
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(CorruptJournalFile):
        storage.read()


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    journal = TinyDBJournal(tmp_path / "j", SEGMENT)
    journal.open()
    journal.checkpoint([meeting(1)], {"s": 1})
    blocker = tmp_path / "j" / "segment-000000000009.json"
    blocker.mkdir()  # os.replace onto a directory fails, as a full disk would
    with pytest.raises(JournalError):
        journal.checkpoint([meeting(2, 2800)], {"s": 2})
    blocker.rmdir()
    assert journal.peek_batch(5) == [meeting(1)]
    journal.checkpoint([meeting(2, 2800)], {"s": 2})  # the retry succeeds
    journal.close()
    journal = TinyDBJournal(tmp_path / "j", SEGMENT)
    journal.open()
    assert journal.peek_batch(5) == [meeting(1), meeting(2, 2800)]
    assert journal.load_state() == {"s": 2}
    assert not list((tmp_path / "j").glob(".*.tmp"))
    journal.close()


def test_a_state_file_removed_while_running_is_written_again(tmp_path: Path) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    journal.checkpoint([meeting(1)], {"s": 1})
    (tmp_path / STATE_FILE).unlink()
    journal.checkpoint([], {"s": 2})
    journal.close()
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    assert journal.load_state() == {"s": 2}
    journal.close()
