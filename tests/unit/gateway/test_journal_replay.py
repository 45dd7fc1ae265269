"""The replay memory in the journal: base + append-only log, valid only up to the checkpoint.

Both journals must give back, after a reopen, exactly the replay changes of the last
checkpoint that returned: staged changes whose checkpoint failed or never came (a kill)
must not count, and a new base replaces everything before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.changelog import MIN_COMPACT_BYTES, ChangeLog
from gateway.errors import JournalError
from gateway.journal import STATE_FILE, Journal, TinyDBJournal
from gateway.memory_journal import MemoryJournal
from gateway.replay import DIGEST_LEN, DUPLICATE, NEW, ReplayMemory

SEGMENT = 300


def changes(memory: ReplayMemory, badge: str, seqs: range) -> bytes:
    for seq in seqs:
        memory.record(badge, seq, seq.to_bytes(DIGEST_LEN, "big"))
    return memory.take_changes()


def loaded(journal: Journal) -> ReplayMemory:
    memory = ReplayMemory()
    memory.load(*journal.load_replay())
    return memory


@pytest.fixture(params=["memory", "tinydb"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    built: Journal = (
        MemoryJournal(SEGMENT)
        if request.param == "memory"
        else TinyDBJournal(tmp_path / "journal", SEGMENT)
    )
    built.open()
    yield built
    built.close()


def reopen(journal: Journal) -> Journal:
    journal.close()
    if isinstance(journal, TinyDBJournal):
        journal = TinyDBJournal(journal.directory, SEGMENT)
    journal.open()
    return journal


def test_changes_count_once_their_checkpoint_returned(journal: Journal) -> None:
    memory = ReplayMemory()
    assert journal.load_replay() == (b"", b"")
    journal.save_replay(changes(memory, "b1", range(0, 5)))
    journal.checkpoint([], {"s": 1})
    journal.save_replay(changes(memory, "b2", range(0, 3)))
    journal.checkpoint([], {"s": 2})
    expected = memory.dump()
    journal.save_replay(changes(memory, "b1", range(5, 9)))  # staged, then killed
    journal = reopen(journal)
    assert loaded(journal).dump() == expected
    assert loaded(journal).classify("b1", 5, (5).to_bytes(DIGEST_LEN, "big")) == NEW
    journal.close()


def test_a_retried_save_replaces_what_the_failed_one_staged(journal: Journal) -> None:
    memory = ReplayMemory()
    journal.save_replay(changes(memory, "b1", range(0, 5)))
    journal.checkpoint([], {"s": 1})
    first = changes(memory, "b1", range(5, 7))
    journal.save_replay(first)  # its checkpoint failed: the service keeps the changes
    journal.save_replay(first + changes(memory, "b1", range(7, 9)))
    journal.checkpoint([], {"s": 2})
    journal = reopen(journal)
    assert loaded(journal).dump() == memory.dump()
    journal.close()


def test_a_base_starts_over_and_later_changes_follow_it(journal: Journal) -> None:
    memory = ReplayMemory()
    journal.save_replay(changes(memory, "b1", range(0, 300)))
    journal.checkpoint([], {"s": 1})
    changes(memory, "b1", range(300, 310))
    journal.save_replay(b"ignored when a base comes", memory.dump())
    journal.checkpoint([], {"s": 2})
    journal.save_replay(changes(memory, "b2", range(0, 2)))
    journal.checkpoint([], {"s": 3})
    journal = reopen(journal)
    base, log = journal.load_replay()
    assert log == changes(ReplayMemory(), "b2", range(0, 2))
    assert loaded(journal).dump() == memory.dump()
    assert loaded(journal).classify("b1", 309, (309).to_bytes(DIGEST_LEN, "big")) == DUPLICATE
    journal.close()


def test_a_long_log_asks_for_a_base(journal: Journal) -> None:
    memory = ReplayMemory()
    assert not journal.replay_needs_base()
    total = 0
    badge = 0
    while total <= MIN_COMPACT_BYTES:
        blob = b"".join(changes(memory, f"b{badge}-{i}", range(0, 300)) for i in range(20))
        journal.save_replay(blob)
        journal.checkpoint([], {})
        total += len(blob)
        badge += 1
    assert journal.replay_needs_base()
    journal.save_replay(b"", memory.dump())
    journal.checkpoint([], {})
    assert not journal.replay_needs_base()


# --- files ------------------------------------------------------------------------------


def test_a_kill_mid_append_or_mid_base_leaves_the_last_checkpoint(tmp_path: Path) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    memory = ReplayMemory()
    journal.save_replay(changes(memory, "b1", range(0, 4)))
    journal.checkpoint([], {"s": 1})
    expected = memory.dump()
    journal.save_replay(changes(memory, "b1", range(4, 8)))  # appended, never committed
    journal.close()
    log = tmp_path / "replay-000000000000.log"
    with log.open("ab") as handle:
        handle.write(b"\x05half")  # and a torn record after it
    (tmp_path / "replay-000000000001.base").write_bytes(b"a base whose pointer never came")
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    assert loaded(journal).dump() == expected
    assert not (tmp_path / "replay-000000000001.base").exists()
    journal.save_replay(changes(ReplayMemory(), "b9", range(0, 1)))  # appends at the cut
    journal.checkpoint([], {"s": 2})
    journal.close()
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    assert loaded(journal).classify("b9", 0, (0).to_bytes(DIGEST_LEN, "big")) == DUPLICATE
    assert loaded(journal).classify("b1", 3, (3).to_bytes(DIGEST_LEN, "big")) == DUPLICATE
    journal.close()


def test_a_base_generation_deletes_the_older_files(tmp_path: Path) -> None:
    journal = TinyDBJournal(tmp_path, SEGMENT)
    journal.open()
    memory = ReplayMemory()
    journal.save_replay(changes(memory, "b1", range(0, 4)))
    journal.checkpoint([], {})
    journal.save_replay(b"", memory.dump())
    journal.checkpoint([], {})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["replay-000000000001.base", "replay-000000000001.log", STATE_FILE]
    assert journal.replay_sizes() == (len(memory.dump()), 0)
    journal.close()


def test_a_failed_append_keeps_the_committed_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = TinyDBJournal(tmp_path / "j", SEGMENT)
    journal.open()
    memory = ReplayMemory()
    journal.save_replay(changes(memory, "b1", range(0, 4)))
    journal.checkpoint([], {})
    expected = memory.dump()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("gateway.changelog.os.fsync", full_disk)
        with pytest.raises(JournalError):
            journal.save_replay(changes(memory, "b1", range(4, 6)))  # written, not durable
    journal.checkpoint([], {})  # a checkpoint without replay changes staged
    journal.close()
    journal = TinyDBJournal(tmp_path / "j", SEGMENT)
    journal.open()
    assert loaded(journal).dump() == expected
    journal.close()


def test_a_pointer_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path, "replay")
    with pytest.raises(JournalError):
        log.open({"gen": "x"})
    log.open(None)
    assert log.read() == (b"", b"")
