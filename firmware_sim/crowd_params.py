"""``CrowdParams``: how the crowd behaves (groups, sessions, queues, walking, lunch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrowdParams:
    """Behaviour of the crowd; the defaults are documented in docs/simulator.md.

    Attributes:
        window_seconds: event time per window.
        seated_share: share of the attendees sitting in the halls during the session.
        group_radius_m: range of the radius of a conversation circle.
        heading_jitter_deg: a group member faces the circle's centre within this angle.
        seat_jitter_deg: a seated person faces the stage within this angle.
        group_lifetime_s: mean lifetime of a conversation group (gamma, shape 2).
        membership_s: mean time a person stays in a group before leaving on their own.
        seek_probability: chance per window that someone standing alone looks for company.
        new_group_share: chance that a seeker starts a group with another lone person
            rather than joining an existing group.
        max_group: largest conversation group.
        switch_room_share: chance that someone leaving a group walks to another room.
        corridors: walk through the corridor between halls and mingling rooms.
        walking: with ``corridors``, walk along a path through the doors and the corridor
            for as many windows as the way takes (walking.py); otherwise a walk is one
            window on a random walking slot of the corridor.
        queues: queue at registration on arrival and for coffee at the break.
        coffee_share: share of the audience that queues for coffee after the session.
        queue_service_s: seconds one desk takes per person.
        queue_desks_per_100: desks serving each queue per 100 attendees (at least one).
        queue_jitter_deg: someone in a queue faces the head of the line within this angle.
        walk_jitter_deg: a walker faces the way they go within this angle.
        lunch_service_s: seconds one buffet desk takes per person at lunch.
        table_share: share of those served lunch who eat at a table (the others stand).
        table_size: people per lunch table.
        table_radius_m: radius of the circle people at a table sit on.
    """

    window_seconds: int = 20
    seated_share: float = 0.7
    group_radius_m: tuple[float, float] = (0.45, 0.7)
    heading_jitter_deg: float = 15.0
    seat_jitter_deg: float = 10.0
    group_lifetime_s: float = 360.0
    membership_s: float = 1800.0
    seek_probability: float = 0.3
    new_group_share: float = 0.5
    max_group: int = 5
    switch_room_share: float = 0.2
    corridors: bool = True
    walking: bool = False
    queues: bool = True
    coffee_share: float = 0.4
    queue_service_s: float = 6.0
    queue_desks_per_100: float = 1.0
    queue_jitter_deg: float = 15.0
    walk_jitter_deg: float = 10.0
    lunch_service_s: float = 15.0
    table_share: float = 0.6
    table_size: int = 4
    table_radius_m: float = 0.6
