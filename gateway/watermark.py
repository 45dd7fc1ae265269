"""Event time: the watermark derived from the badges' latest report windows."""

from __future__ import annotations

from typing import Any


class Watermark:
    """W = the ``quorum``-th largest of the per-badge latest ``window_start``.

    With a quorum of 2, one badge with a runaway clock cannot close everyone's
    windows. W never decreases. Only the top ``quorum`` badges are kept: a badge
    outside them can only matter once its latest value beats the smallest of them,
    and values only grow, so the rest is never needed again.

    Args:
        quorum: how many badges must have reached a time before it becomes W.
    """

    def __init__(self, quorum: int) -> None:
        if quorum < 1:
            raise ValueError("quorum must be at least 1")
        self._quorum = quorum
        self._top: dict[str, int] = {}
        self._value: int | None = None  # min(top) once it holds quorum badges, kept current

    @property
    def value(self) -> int | None:
        """The watermark, or None until ``quorum`` badges have reported."""
        return self._value

    def observe(self, badge: str, window_start: int) -> bool:
        """Account for an accepted report; return True if W moved."""
        before = self._value
        if before is not None and window_start <= before:
            # Nothing can change: every kept value is >= W, and the lowest kept one (W)
            # is only replaced by a larger value. Most reports end here.
            return False
        if badge in self._top:
            self._top[badge] = max(self._top[badge], window_start)
        elif len(self._top) < self._quorum:
            self._top[badge] = window_start
        else:
            lowest = min(self._top, key=lambda b: (self._top[b], b))
            if window_start <= self._top[lowest]:
                return False
            del self._top[lowest]
            self._top[badge] = window_start
        self._value = self._current()
        return self._value != before

    def _current(self) -> int | None:
        if len(self._top) < self._quorum:
            return None
        return min(self._top.values())

    def snapshot(self) -> dict[str, Any]:
        """Return the compact state, JSON-ready."""
        return {"quorum": self._quorum, "top": dict(self._top)}

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot taken with the same or another quorum."""
        top = {str(b): int(t) for b, t in dict(state["top"]).items()}
        ranked = sorted(top.items(), key=lambda item: (-item[1], item[0]))
        self._top = dict(ranked[: self._quorum])
        self._value = self._current()
