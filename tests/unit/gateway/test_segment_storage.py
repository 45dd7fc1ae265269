"""Meeting and check-in segments read their file once, then answer from their last write.

``InsertOnlyJSONStorage`` serves TinyDB's read-before-write from what it last wrote;
a failed write forgets that, so what follows is decided by the file again. Checked
against the files themselves, with writes failing at random (Hypothesis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import storage
from gateway.errors import JournalError
from gateway.journal import TinyDBJournal
from gateway.storage import AtomicJSONStorage, InsertOnlyJSONStorage
from tests.unit.gateway.test_journal import SEGMENT, meeting


def test_the_file_is_read_once_while_writes_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Path] = []
    real = AtomicJSONStorage.read

    def counting(self: AtomicJSONStorage) -> Any:
        reads.append(self._path)
        return real(self)

    monkeypatch.setattr(AtomicJSONStorage, "read", counting)
    path = tmp_path / "segment.json"
    store = InsertOnlyJSONStorage(path)
    assert store.read() is None
    store.write({"meetings": {"1": {"x": 1}}})
    copy = store.read()
    assert copy == {"meetings": {"1": {"x": 1}}}
    assert copy is not None
    copy["meetings"] = {}  # TinyDB replaces a table in the copy it is given
    assert store.read() == {"meetings": {"1": {"x": 1}}}
    assert reads == [path]


def test_after_a_failed_write_the_file_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "segment.json"
    store = InsertOnlyJSONStorage(path)
    store.write({"meetings": {"1": {"x": 1}}})

    def failing(target: Path, payload: bytes) -> None:
        raise JournalError("disk full")

    monkeypatch.setattr(storage, "write_atomic", failing)
    with pytest.raises(JournalError):
        store.write({"meetings": {"1": {"x": 1}, "2": {"x": 2}}})
    monkeypatch.undo()
    assert store.read() == {"meetings": {"1": {"x": 1}}}


@settings(max_examples=30, deadline=None)
@given(
    batches=st.lists(
        st.tuples(st.lists(st.integers(0, 40), max_size=6), st.booleans()), max_size=12
    )
)
def test_segments_hold_each_meeting_once_whatever_writes_fail(
    tmp_path_factory: pytest.TempPathFactory, batches: list[tuple[list[int], bool]]
) -> None:
    directory = tmp_path_factory.mktemp("journal")
    journal = TinyDBJournal(directory, SEGMENT)
    journal.open()
    real = storage.write_atomic
    journaled: set[int] = set()
    with pytest.MonkeyPatch.context() as patch:
        for numbers, fails in batches:
            meetings = [meeting(n) for n in numbers]
            if fails:  # the segment write fails; the checkpoint is retried as the gateway does

                def failing(target: Path, payload: bytes) -> None:
                    if target.name.startswith("segment-"):
                        raise JournalError("disk full")
                    real(target, payload)

                patch.setattr(storage, "write_atomic", failing)
                if set(numbers) - journaled:  # known ids are not written again
                    with pytest.raises(JournalError):
                        journal.checkpoint(meetings, {"n": len(journaled)})
                patch.setattr(storage, "write_atomic", real)
            journal.checkpoint(meetings, {"n": len(journaled)})
            journaled.update(numbers)
    on_disk = [
        row["badge_b"]
        for path in sorted(directory.glob("segment-*.json"))
        for row in msgspec.json.decode(path.read_bytes())["meetings"].values()
    ]
    assert sorted(on_disk) == sorted(f"b{n}" for n in journaled)
    journal.close()
    reopened = TinyDBJournal(directory, SEGMENT)
    reopened.open()
    assert sorted(m.badge_b for m in reopened.peek_batch(1000)) == sorted(on_disk)
    reopened.close()
