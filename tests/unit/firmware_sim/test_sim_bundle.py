"""Loading provisioning bundles from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.bundle import load_bundles
from firmware_sim.errors import BundleError
from protocol.encoding import encode_json
from tests.unit.firmware_sim.fakes import make_bundles, write_bundles


def test_loads_every_bundle_sorted_by_badge(tmp_path: Path) -> None:
    bundles = make_bundles(5)
    write_bundles(tmp_path, list(reversed(bundles)))
    loaded = load_bundles(tmp_path)
    assert loaded.bundles == bundles
    assert loaded.rejected == 0


def test_bad_files_are_counted_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundles = make_bundles(3)
    write_bundles(tmp_path, bundles)
    (tmp_path / "garbage.json").write_bytes(b"\x00not json")
    (tmp_path / "wrong-shape.json").write_text('{"event": "ev-test", "badge": "b9"}')
    (tmp_path / "copy.json").write_bytes(encode_json(bundles[0]))
    (tmp_path / "notes.txt").write_text("ignored: not a .json file")
    loaded = load_bundles(tmp_path)
    assert [b.badge for b in loaded.bundles] == [b.badge for b in bundles]
    assert loaded.rejected == 3
    assert "rejected bundle file=garbage.json" in caplog.text
    assert bundles[0].signing_seed not in caplog.text


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundles(tmp_path / "nope")


def test_folder_without_valid_bundles_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(BundleError, match="no provisioning bundles"):
        load_bundles(tmp_path)
