"""Property tests of the trace parser: round trips, and junk never hides or invents contacts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.trace import bystanders, contact_events, format_trace, ordered, parse_trace

ids = st.integers(min_value=0, max_value=30).map(str) | st.sampled_from(["a", "b-1", "x.y"])
contact = st.tuples(st.integers(min_value=1, max_value=60).map(lambda k: 20 * k), ids, ids).filter(
    lambda c: c[1] != c[2]
)
junk = st.sampled_from(
    ["", "# note", "1 2", "x 1 2", "20 5 5", "25 1 2", "20 1 2 3", "20 a/b c", "   ", "-5 1 2"]
)


def _as_windows(contacts: list[tuple[int, str, str]]) -> dict[int, set[tuple[str, str]]]:
    windows: dict[int, set[tuple[str, str]]] = {}
    for t, i, j in contacts:
        windows.setdefault(t, set()).add(ordered(i, j))
    return windows


@given(st.lists(contact, max_size=60))
def test_format_then_parse_round_trips(contacts: list[tuple[int, str, str]]) -> None:
    expected = _as_windows(contacts)
    text = format_trace({t: sorted(p) for t, p in expected.items()})
    trace = parse_trace(text.splitlines())
    assert {t: set(p) for t, p in trace.windows.items()} == expected
    assert trace.bad_lines == 0
    assert trace.contacts == sum(len(p) for p in expected.values())


@settings(max_examples=60)
@given(st.lists(st.one_of(contact.map(lambda c: f"{c[0]} {c[1]} {c[2]}"), junk), max_size=60))
def test_junk_is_counted_and_never_changes_the_good_lines(lines: list[str]) -> None:
    trace = parse_trace(lines)
    good: list[tuple[int, str, str]] = []
    seen: set[tuple[int, tuple[str, str]]] = set()
    bad_lines: list[int] = []
    grid: int | None = None
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or line.strip().startswith("#"):
            continue
        ok = (
            len(fields) == 3
            and fields[0].isdigit()
            and all("/" not in f for f in fields[1:])
            and fields[1] != fields[2]
        )
        if ok and grid is None:
            grid = int(fields[0]) % 20  # the first usable line sets the grid
        ok = ok and int(fields[0]) % 20 == grid
        key = (int(fields[0]), ordered(fields[1], fields[2])) if ok else None
        if not ok or key in seen:
            bad_lines.append(number)
            continue
        assert key is not None
        seen.add(key)
        good.append((int(fields[0]), fields[1], fields[2]))
    assert trace.bad_lines == len(bad_lines)
    assert [issue.line for issue in trace.issues] == bad_lines
    assert {t: set(p) for t, p in trace.windows.items()} == _as_windows(good)


@given(st.lists(contact, max_size=60), st.integers(min_value=0, max_value=3))
def test_contact_events_cover_every_window_once(
    contacts: list[tuple[int, str, str]], gap_windows: int
) -> None:
    trace = parse_trace([f"{t} {i} {j}" for t, i, j in contacts])
    events = contact_events(trace, 20 * gap_windows)
    for pair, ends in trace.pair_windows().items():
        mine = sorted((e.start, e.end) for e in events if e.pair == pair)
        # Every window inside exactly one event; events separated by more than the gap.
        for t in ends:
            assert sum(1 for s, e in mine if s < t <= e) == 1
        for (_, end), (start, _) in zip(mine, mine[1:], strict=False):
            assert start - end > 20 * gap_windows
        assert mine[0][0] == ends[0] - 20 and mine[-1][1] == ends[-1]


@given(st.lists(contact, max_size=60), st.integers(min_value=0, max_value=4))
def test_bystanders_are_silent_between_close_contacts_of_their_own(
    contacts: list[tuple[int, str, str]], gap_windows: int
) -> None:
    trace = parse_trace([f"{t} {i} {j}" for t, i, j in contacts])
    gap = 20 * gap_windows
    standing = bystanders(trace, gap)
    active = {x: [t for t, p in trace.windows.items() if any(x in q for q in p)] for x in trace.ids}
    assert set(standing) <= set(trace.windows)
    for t, pairs in trace.windows.items():
        talking = {x for p in pairs for x in p}
        expected = [
            x
            for x in trace.ids
            if x not in talking
            and any(
                a < t < b and b - a - 20 <= gap
                for a, b in zip(active[x], active[x][1:], strict=False)
            )
        ]
        assert list(standing.get(t, ())) == expected
    wider = bystanders(trace, gap + 20)
    assert all(set(ids) <= set(wider[t]) for t, ids in standing.items())
    assert bystanders(trace, 0) == {}
