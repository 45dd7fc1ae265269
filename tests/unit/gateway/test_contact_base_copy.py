"""A contact base dumped from a copy (in the journal thread) is the base of the moment of the copy.

The gateway copies the contact state on the event loop when a base is due and dumps the
copy in the journal thread while the loop goes on changing the live state
(``Processor.freeze_contacts``, ``Checkpointer.take_contacts``).
"""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.processor import Processor
from gateway.registry import BadgeRegistry
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, badges, registry_for

EVENT = "ev-base-copy"
MEMBERS = badges(EVENT, 6)
REGISTRY = BadgeRegistry(registry_for(EVENT, MEMBERS))

Pairs = list[tuple[int, int]]
windows = st.lists(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)).filter(lambda p: p[0] != p[1])),
    min_size=1,
    max_size=8,
)


def talk(processor: Processor, members: list[TestBadge], window: int, pairs: Pairs) -> None:
    """Every badge reports ``window``; the first of each pair hears the second."""
    heard: dict[int, list[tuple[TestBadge, int]]] = {}
    for i, j in pairs:
        heard.setdefault(i, []).append((members[j], -60 - j))
    for i, member in enumerate(members):
        processor.handle(*member.report(T0 + window * WINDOW, heard.get(i, [])))


@settings(max_examples=40, deadline=None)
@given(before=windows, after=windows)
def test_the_copy_dumps_the_state_of_the_moment_it_was_taken(
    before: list[Pairs], after: list[Pairs]
) -> None:
    processor = Processor(REGISTRY, FakeClock())
    for w, pairs in enumerate(before):
        talk(processor, MEMBERS, w, pairs)
    processor.take_contact_changes()
    expected = processor.dump_contacts()
    expected_state = processor.contact_snapshot()
    dump = processor.freeze_contacts()
    # the live state goes on: more halves, contacts, windows closed into meetings
    for w, pairs in enumerate(after, start=len(before)):
        talk(processor, MEMBERS, w, pairs)
    dumped: list[bytes] = []
    thread = threading.Thread(target=lambda: dumped.append(dump()))
    thread.start()
    thread.join()
    [base] = dumped
    # the same records, though a copied set may list a window's pairs in another order
    assert len(base) == len(expected)
    reloaded = Processor(REGISTRY, FakeClock())
    reloaded.load_contacts(base, b"")
    assert reloaded.contact_snapshot() == expected_state


def test_a_copy_of_an_empty_state_dumps_nothing() -> None:
    processor = Processor(REGISTRY, FakeClock())
    assert processor.freeze_contacts()() == b"" == processor.dump_contacts()
