"""A simulated window's output, and putting a signed window's messages in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from firmware_sim.badge import Outgoing
from firmware_sim.buffer import OfflineBuffer
from firmware_sim.sealer import Pending


@dataclass(frozen=True)
class WindowOutput:
    """One simulated window: the messages to publish after it ends, and its ground truth.

    Attributes:
        index: window number, from 0.
        window_start: event time the window starts.
        messages: (topic, payload) pairs in publishing order (each badge's in seq order).
        contacts: face-to-face pairs ``(a, b)`` with ``a < b``.
        taps: ``(t, a, b)`` with ``a < b`` for each tap in the window.
    """

    index: int
    window_start: int
    messages: tuple[Outgoing, ...]
    contacts: tuple[tuple[str, str], ...]
    taps: tuple[tuple[int, str, str], ...]


class SignedWindow(NamedTuple):
    """A window whose messages are being signed (``Sealer.submit``)."""

    number: int
    start: int
    batch: Pending
    contacts: tuple[tuple[str, str], ...]
    taps: tuple[tuple[int, str, str], ...]

    def output(self, messages: Sequence[Outgoing]) -> WindowOutput:
        """The window's output with its signed ``messages`` in publishing order."""
        return WindowOutput(
            index=self.number,
            window_start=self.start,
            messages=tuple(messages),
            contacts=self.contacts,
            taps=self.taps,
        )


def assemble(
    sealed: list[Outgoing],
    detours: list[tuple[int, int, list[Outgoing], int]],
    buffers: list[OfflineBuffer],
) -> list[Outgoing]:
    """A window's messages in publishing order: each offline badge's own go into its
    buffer, and a badge back online publishes its drained buffer before its own."""
    messages: list[Outgoing] = []
    done = 0
    for at, k, drained, kept in detours:
        messages.extend(sealed[done:at])
        messages.extend(drained)
        for message in sealed[at : at + kept]:
            buffers[k].put(message)
        done = at + kept
    messages.extend(sealed[done:])
    return messages
