"""Drafts and sealers: signing later, here or in a signer process, gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.badge import Badge, Draft, seal_draft
from firmware_sim.config import SimSettings
from firmware_sim.runner import run_simulation
from firmware_sim.sealer import LocalSealer, ProcessSealer, make_sealer, secret_key_of
from firmware_sim.simulation import simulate
from protocol.api import ProvisioningBundle
from protocol.encoding import open_envelope
from protocol.messages import Heard, SightingReport, TapTranscript
from protocol.signing import BadgeKey, Verifier
from protocol.topics import parse_badge_topic
from tests.unit.firmware_sim.fakes import RecordingPublisher, make_bundles, write_bundles

T0 = 1_780_563_600


def _badges(n: int) -> list[Badge]:
    return [Badge.from_bundle(b, start_time=T0) for b in make_bundles(n)]


def _seeds(n: int) -> list[bytes]:
    return [bytes.fromhex(b.signing_seed) for b in make_bundles(n)]


def _drafts(badges: list[Badge]) -> tuple[list[int], list[Draft]]:
    """Every kind of draft, from every badge, interleaved."""
    who: list[int] = []
    drafts: list[Draft] = []
    body = b'[["' + b"ab" * 16 + b'",-60,-55,7]]'
    for round_ in range(3):
        for k, badge in enumerate(badges):
            transcript = TapTranscript(
                badge_a=badges[0].badge,
                badge_b=badges[-1].badge,
                nonce_a="0" * 32,
                nonce_b="1" * 32,
                t=T0 + round_,
            )
            drafts.append(badge.report_draft(T0 + 20 * round_, body))
            drafts.append(badge.status_draft(T0 + round_, buffer_fill=round_, drops=1))
            drafts.append(badge.checkin_draft("entrance", "2" * 32, T0 + round_, "entry"))
            if k in (0, len(badges) - 1):
                drafts.append(badge.tap_draft(transcript))
            who.extend([k] * (len(drafts) - len(who)))
    return who, drafts


def test_a_report_draft_is_the_report_a_badge_seals() -> None:
    a, b = _badges(1)[0], _badges(1)[0]
    heard = [Heard("ab" * 16, -60, -55, 7), Heard("cd" * 16, -70, -70, 1)]
    body = b'[["' + b"ab" * 16 + b'",-60,-55,7],["' + b"cd" * 16 + b'",-70,-70,1]]'
    for window in range(3):
        sealed = seal_draft(a.signer, a.report_draft(T0 + 20 * window, body))
        assert sealed == b.report(T0 + 20 * window, heard)  # the msgspec path, signed
    assert a.seq == b.seq == 3


def test_status_checkin_and_tap_drafts_seal_to_what_the_badge_seals() -> None:
    a, b = _badges(2)
    twin = _badges(2)[0]
    transcript = TapTranscript(
        badge_a=a.badge, badge_b=b.badge, nonce_a="0" * 32, nonce_b="1" * 32, t=T0
    )
    assert seal_draft(a.signer, a.status_draft(T0, buffer_fill=3, drops=1)) == twin.status(
        T0, buffer_fill=3, drops=1
    )
    assert seal_draft(a.signer, a.checkin_draft("entrance", "2" * 32, T0, "exit")) == (
        twin.checkin("entrance", "2" * 32, T0, "exit")
    )
    assert seal_draft(a.signer, a.tap_draft(transcript)) == twin.tap(transcript)


def test_local_and_process_sealers_give_the_same_verified_bytes() -> None:
    badges = _badges(5)
    who, drafts = _drafts(badges)
    local = LocalSealer(_seeds(5)).seal(who, drafts)
    assert local == [seal_draft(badges[k].signer, d) for k, d in zip(who, drafts, strict=True)]
    bundles = make_bundles(5)
    verifiers = [Verifier(BadgeKey(bytes.fromhex(b.signing_seed)).public_key) for b in bundles]
    for k, (topic, payload) in zip(who, local, strict=True):
        message = open_envelope(parse_badge_topic(topic), payload, verifiers[k])
        assert message.badge == badges[k].badge
    keys = [secret_key_of(b.signer) for b in badges]  # the badges' keys, not derived again
    assert LocalSealer(_seeds(5), keys).seal(who, drafts) == local
    for share, given in ((0.0, None), (0.3, None), (1.0, None), (0.3, keys)):
        sealer = ProcessSealer(_seeds(5), share, given)
        try:
            assert sealer.seal(who, drafts) == local
            assert sealer.seal([], []) == []
            assert sealer.seal(who[:1], drafts[:1]) == local[:1]
        finally:
            sealer.close()


def test_a_failing_signer_process_raises_here_and_a_bad_share_is_refused() -> None:
    badges = _badges(2)
    who, drafts = _drafts(badges)
    sealer = ProcessSealer(_seeds(2), 1.0)
    try:
        with pytest.raises(RuntimeError, match="IndexError"):
            sealer.seal([7] * len(drafts), drafts)  # no badge 7: the signer fails
        assert sealer.seal(who, drafts) == LocalSealer(_seeds(2)).seal(who, drafts)
    finally:
        sealer.close()
    with pytest.raises(ValueError, match="share"):
        ProcessSealer(_seeds(2), 1.5)
    assert isinstance(make_sealer(_seeds(1), signer_process=False), LocalSealer)


def test_a_submitted_batch_is_collected_once_and_close_drops_a_pending_one() -> None:
    badges = _badges(4)
    who, drafts = _drafts(badges)
    local = LocalSealer(_seeds(4)).seal(who, drafts)
    assert LocalSealer(_seeds(4)).submit(who, drafts).result() == local
    sealer = ProcessSealer(_seeds(4), 0.5)
    try:
        pending = sealer.submit(who, drafts)
        with pytest.raises(RuntimeError, match="not collected"):
            sealer.submit(who, drafts)  # one batch at a time
        assert pending.result() == local
        assert pending.result() == local  # collected once, remembered
        sealer.submit(who, drafts)  # left pending: close must not wait on it
    finally:
        sealer.close()
    assert not sealer._process.is_alive()


def _settings(**overrides: object) -> SimSettings:
    values: dict[str, object] = {
        "bundles_dir": Path("."),
        "minutes": 8.0,
        "seed": 3,
        "radio": "realistic",
        "outage_rate": 0.05,
        "outage_mean_windows": 3.0,
        "buffer_capacity": 4,
    }
    values.update(overrides)
    return SimSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("outage_rate", [0.05, 0.0])
def test_simulation_with_a_signer_process_is_byte_identical(outage_rate: float) -> None:
    # With outages most windows fill buffers and are finished at once; without, every
    # window is signed while the next is drafted (pipelined): the same bytes both ways.
    bundles = make_bundles(50)
    here = list(simulate(bundles, _settings(outage_rate=outage_rate)))
    for world in (False, True):
        there = list(
            simulate(
                bundles,
                _settings(outage_rate=outage_rate),
                signer_process=True,
                world_process=world,
            )
        )
        assert len(here) == len(there) > 0
        for a, b in zip(here, there, strict=True):
            assert a.index == b.index and a.window_start == b.window_start
            assert a.messages == b.messages
            assert a.contacts == b.contacts and a.taps == b.taps
    # A consumer that stops early leaves a batch with the signer: closing reaps it.
    stopped = simulate(bundles, _settings(outage_rate=outage_rate), signer_process=True)
    assert next(stopped).messages == here[0].messages
    assert next(stopped).messages == here[1].messages
    stopped.close()
    decoded = [
        open_envelope(parse_badge_topic(t), p, _verifier(bundles, t))
        for out in here
        for t, p in out.messages
    ]
    assert any(isinstance(m, SightingReport) and m.heard for m in decoded)


def _verifier(bundles: list[ProvisioningBundle], topic: str) -> Verifier:
    badge = parse_badge_topic(topic).badge
    seed = next(b.signing_seed for b in bundles if b.badge == badge)
    return Verifier(BadgeKey(bytes.fromhex(seed)).public_key)


def test_the_badge_settings_turn_both_workers_on_with_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundles = make_bundles(12)
    write_bundles(tmp_path / "bundles", bundles)
    monkeypatch.setenv("BADGE_BUNDLES_DIR", str(tmp_path / "bundles"))
    monkeypatch.setenv("BADGE_MINUTES", "3")
    monkeypatch.setenv("BADGE_SPEED", "0")
    monkeypatch.setenv("BADGE_WORLD_PROCESS", "true")
    monkeypatch.setenv("BADGE_SIGNER_PROCESS", "true")
    settings = SimSettings()
    assert settings.world_process and settings.signer_process
    publisher = RecordingPublisher()
    run_simulation(settings, publisher=publisher)
    alone = settings.model_copy(update={"world_process": False, "signer_process": False})
    expected = [tuple(m) for out in simulate(bundles, alone) for m in out.messages]
    assert publisher.messages == expected and expected
