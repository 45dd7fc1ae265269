"""The BLE bridge: bleak's own BLEDevice and AdvertisementData fed to the detection callback."""

from __future__ import annotations

from collections import Counter

import bleak
import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from gateway.ble import (
    COMPANY_ID,
    FORMAT_VERSION,
    BleUnavailable,
    ZonePresence,
    parse_advertisement,
    start_scanner,
)
from gateway.registry import BadgeRegistry
from tests.unit.gateway.support import T0, FakeClock, TestBadge


def advertisement(manufacturer_data: dict[int, bytes], rssi: int = -60) -> AdvertisementData:
    return AdvertisementData(
        local_name=None,
        manufacturer_data=manufacturer_data,
        service_data={},
        service_uuids=[],
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )


def badge_ad(member: TestBadge, t: int, rssi: int = -60) -> AdvertisementData:
    ephid = bytes.fromhex(member.ephid(t))
    return advertisement({COMPANY_ID: bytes([FORMAT_VERSION]) + ephid}, rssi)


DEVICE = BLEDevice("12:34:56:78:9A:BC", None, None)


@pytest.fixture
def presence(badge_registry: BadgeRegistry, clock: FakeClock) -> ZonePresence:
    return ZonePresence(badge_registry, clock, Counter())


def test_a_badge_advertisement_puts_the_badge_in_the_zone(
    presence: ZonePresence, members: list[TestBadge], clock: FakeClock
) -> None:
    presence.on_advertisement(DEVICE, badge_ad(members[0], T0, rssi=-48))
    presence.on_advertisement(DEVICE, badge_ad(members[1], T0 - 900))  # one epoch of skew
    heard = presence.present()
    assert set(heard) == {members[0].badge, members[1].badge}
    assert heard[members[0].badge].rssi == -48
    clock.t += 61
    assert presence.present(timeout_s=60) == {}


def test_other_advertisements_are_counted_not_used(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    counters: Counter[str] = Counter()
    presence = ZonePresence(badge_registry, clock, counters)
    ephid = bytes.fromhex(members[0].ephid(T0))
    presence.on_advertisement(DEVICE, advertisement({0x004C: b"\x02\x15" + b"\x00" * 21}))
    presence.on_advertisement(DEVICE, advertisement({COMPANY_ID: b"\x02" + ephid}))  # version
    presence.on_advertisement(DEVICE, advertisement({COMPANY_ID: b"\x01" + ephid[:8]}))
    presence.on_advertisement(DEVICE, advertisement({COMPANY_ID: b"\x01" + b"\x07" * 16}))
    presence.on_advertisement(DEVICE, badge_ad(members[3], T0))  # b003 is revoked
    presence.on_advertisement(DEVICE, badge_ad(members[0], T0 + 5 * 900))  # far epoch
    assert presence.present() == {}
    assert counters["ble_advertisements"] == 6
    assert counters["ble_foreign"] == 3
    assert counters["ble_unresolved"] == 3


def test_parse_advertisement() -> None:
    ephid = bytes(range(16))
    assert parse_advertisement({COMPANY_ID: b"\x01" + ephid}) == ephid
    assert parse_advertisement({}) is None
    assert parse_advertisement({COMPANY_ID: b""}) is None


async def test_no_adapter_is_a_clear_error(
    presence: ZonePresence, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoBlueZ:
        """What bleak's BlueZ backend does without the D-Bus socket: FileNotFoundError."""

        def __init__(self, detection_callback: object) -> None:
            self.callback = detection_callback

        async def start(self) -> None:
            raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(bleak, "BleakScanner", NoBlueZ)
    with pytest.raises(BleUnavailable) as error:
        await start_scanner(presence)
    assert "Bluetooth adapter" in error.value.detail
