"""The BLE bridge: badge advertisements heard by the gateway itself (bleak), as zone evidence.

A badge advertises its current EphID in manufacturer-specific data (docs/protocol.md
section 3.1): company id 0xFFFF, then the format version (1) and the 16-byte EphID.
``ZonePresence.on_advertisement`` is bleak's detection callback: it resolves the EphID
with the registry's per-epoch tables and remembers when and how strongly each badge was
last heard. ``start_scanner`` is the only place that touches bleak; without a Bluetooth
adapter (or BlueZ) it raises ``BleUnavailable`` with a message a person can act on.

Badges without a network link hand their signed messages over GATT to the relay
(``gateway.relay``, docs/protocol.md section 3.2), which listens to the same scanner.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.clock import Clock
from gateway.errors import GatewayError
from gateway.registry import BadgeRegistry

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

logger = logging.getLogger(__name__)

COMPANY_ID = 0xFFFF
"""Bluetooth SIG company id reserved for tests and unassigned use; ours until one is assigned."""
FORMAT_VERSION = 1
EPHID_LEN = 16
PRESENCE_TIMEOUT_S = 60.0
"""A badge not heard for this long is no longer in the zone."""


AdvertisementListener = Callable[["BLEDevice", "AdvertisementData"], None]
"""A bleak detection callback."""


class BleUnavailable(GatewayError):
    """No Bluetooth adapter or BlueZ: the BLE bridge cannot scan."""


def parse_advertisement(manufacturer_data: Mapping[int, bytes]) -> bytes | None:
    """Return the EphID an inperson badge advertises, or None if this is not one.

    Args:
        manufacturer_data: company id -> payload, as bleak reports it.
    """
    payload = manufacturer_data.get(COMPANY_ID)
    if payload is None or len(payload) != 1 + EPHID_LEN or payload[0] != FORMAT_VERSION:
        return None
    return bytes(payload[1:])


@dataclass(frozen=True, slots=True)
class Heard:
    """The last time a badge was heard by this gateway, and how strongly."""

    badge: str
    t: float
    rssi: int


class ZonePresence:
    """Which registered badges this gateway hears, from their BLE advertisements.

    Args:
        registry: resolves EphIDs (revoked badges never resolve).
        clock: wall time of each advertisement.
        counters: shared counters (``ble_advertisements``, ``ble_foreign``,
            ``ble_unresolved``).
    """

    def __init__(self, registry: BadgeRegistry, clock: Clock, counters: Counter[str]) -> None:
        self._registry = registry
        self._clock = clock
        self._counters = counters
        self._last: dict[str, Heard] = {}

    def on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        """bleak's detection callback: note the badge behind the advertisement, if any."""
        self._counters["ble_advertisements"] += 1
        ephid = parse_advertisement(advertisement.manufacturer_data)
        if ephid is None:
            self._counters["ble_foreign"] += 1
            return
        now = self._clock.now()
        badge = self._registry.resolve(ephid, int(now))
        if badge is None:
            self._counters["ble_unresolved"] += 1
            logger.debug("unresolved EphID from %s", device.address)
            return
        self._last[badge] = Heard(badge, now, advertisement.rssi)

    def present(self, timeout_s: float = PRESENCE_TIMEOUT_S) -> dict[str, Heard]:
        """Badges heard within ``timeout_s`` of now (older entries are forgotten)."""
        horizon = self._clock.now() - timeout_s
        self._last = {b: h for b, h in self._last.items() if h.t >= horizon}
        return dict(self._last)


async def start_scanner(presence: ZonePresence, *others: AdvertisementListener) -> Any:
    """Start a bleak scanner feeding ``presence`` (and ``others``); return it.

    Stop it with ``stop_scanner``.

    Raises:
        BleUnavailable: bleak is missing, or there is no adapter / BlueZ (bleak raises a
            plain FileNotFoundError, an OSError, when BlueZ's D-Bus socket is absent).
    """
    try:
        from bleak import BleakScanner
        from bleak.exc import BleakError
    except ImportError as exc:
        raise BleUnavailable(f"bleak is not installed ({exc}); pip install bleak") from exc
    listeners = (presence.on_advertisement, *others)

    def detected(device: BLEDevice, advertisement: AdvertisementData) -> None:
        for listener in listeners:
            listener(device, advertisement)

    scanner = BleakScanner(detection_callback=detected)
    try:
        await scanner.start()
    except (OSError, BleakError) as exc:
        raise BleUnavailable(
            f"cannot scan for BLE advertisements ({type(exc).__name__}: {exc}); this needs a "
            "Bluetooth adapter and BlueZ (bluetoothd) running; run without --ble otherwise"
        ) from exc
    logger.info("BLE scanner started")
    return scanner


async def stop_scanner(scanner: Any) -> None:
    """Stop a scanner from ``start_scanner``; a failure is logged, never raised."""
    from bleak.exc import BleakError

    try:
        await scanner.stop()
    except (OSError, BleakError) as exc:
        logger.warning("BLE scanner did not stop cleanly: %s", exc)
