"""Indexes behind company seeking (``CrowdGroups._seek_company``).

``JoinWeights`` picks an open group by join weight in O(log n) with the draw
``random.choices`` would make; ``Without`` is a list without one item (a view);
``discard_sorted`` removes a value from a sorted list.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import overload


class Without(Sequence[int]):
    """``values`` without the item at ``skip`` (a view: nothing is copied)."""

    def __init__(self, values: list[int], skip: int) -> None:
        self._values = values
        self._skip = skip
        self._len = len(values) - (skip < len(values))

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(self._len))]
        if not 0 <= index < self._len:
            raise IndexError(index)
        return self._values[index + (index >= self._skip)]


class JoinWeights:
    """Integer weights of a fixed, ascending list of keys, with weighted picks in O(log n).

    A Fenwick tree: ``pick(u)`` returns what ``random.choices(keys, weights)`` returns
    when its ``random()`` is ``u`` (the first key whose running total of weights exceeds
    ``u * total``, the last positive one if none does), ignoring keys of weight 0.
    """

    def __init__(self, keys: list[int], weights: list[int]) -> None:
        self._keys = keys
        self._at = {key: k for k, key in enumerate(keys)}
        self._weights = list(weights)
        size = len(keys)
        tree = [0] + list(weights)
        for k in range(1, size + 1):  # linear-time build
            parent = k + (k & -k)
            if parent <= size:
                tree[parent] += tree[k]
        self._tree = tree
        self._top = 1 << (size.bit_length() - 1) if size else 0
        self.total = sum(weights)

    def set(self, key: int, weight: int) -> None:
        """Give ``key`` the weight ``weight``."""
        k = self._at[key]
        delta = weight - self._weights[k]
        if not delta:
            return
        self._weights[k] = weight
        self.total += delta
        k += 1
        while k < len(self._tree):
            self._tree[k] += delta
            k += k & -k

    def pick(self, u: float) -> int:
        """The key ``random.choices`` would pick with ``random() == u`` (needs total > 0)."""
        x = u * (self.total + 0.0)
        if x >= self.total:  # choices clamps to the last key; the last positive one here
            x = self.total - 0.5
        position, below, step = 0, 0, self._top
        tree, size = self._tree, len(self._tree) - 1
        while step:
            nxt = position + step
            if nxt <= size and below + tree[nxt] <= x:
                position = nxt
                below += tree[nxt]
            step >>= 1
        return self._keys[position]


def discard_sorted(values: list[int], value: int) -> None:
    """Remove ``value`` from the sorted list ``values`` (it must be there)."""
    at = bisect.bisect_left(values, value)
    if at < len(values) and values[at] == value:
        del values[at]
