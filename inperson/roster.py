"""A deterministic, made-up attendee list for the demo (no real people)."""

from __future__ import annotations

import random

_FIRST = (
    "Ada Alan Amara Ana Arjun Ben Bo Carla Chen Dana Diego Eli Emma Eva Farah Felix Grace Hana "
    "Hugo Ines Ivan Jade Jonas Kai Kemal Lea Lena Liam Lin Luca Maya Mei Mila Nia "
    "Noah Nora Omar Oscar Priya Quinn Rafael Rosa Sami Sara Sofia Tariq Theo Uma Vera Wen "
    "Yara Yusuf Zoe"
).split()
_LAST = (
    "Abe Bauer Costa Dubois Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Larsen Moreau "
    "Nakamura Okafor Petrov Quispe Rossi Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zimmermann "
    "Silva Novak Berg"
).split()
_COMPANIES = (
    "Acme Labs",
    "Blue Harbor",
    "Cobalt Systems",
    "Delta Health",
    "Evergreen Energy",
    "Fjord Analytics",
    "Granite Robotics",
    "Helix Bio",
    "Ionic Networks",
    "Juniper Mobility",
    "Kestrel Security",
    "Lumen Data",
    "Meridian University",
    "Nimbus Cloud",
    "Orbit Logistics",
)


_SHARE_LEVELS = ("full", "name_company", "none")


_SHARE_LEVELS = ("full", "name_company", "none")


def make_roster(count: int, seed: int = 7) -> list[dict[str, str]]:
    """Return ``count`` fictional attendees with unique names and emails."""
    rng = random.Random(seed)
    people: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(people) < count:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        name = f"{first} {last}"
        if name in seen:
            name = f"{first} {last}-{len(people)}"
        seen.add(name)
        company = rng.choice(_COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        local = name.lower().replace(" ", ".").replace("-", "")
        people.append(
            {
                "external_id": f"A{len(people) + 1:05d}",
                "name": name,
                "company": company,
                "email": f"{local}@{domain}",
                "title": rng.choice(
                    ("Engineer", "Researcher", "Product lead", "Founder", "Student")
                ),
                # what each one lets the people they met see (consent, docs/server.md)
                "share_level": rng.choices(_SHARE_LEVELS, weights=(5, 4, 1))[0],
                "share_with": rng.choices(("met", "tapped"), weights=(4, 1))[0],
            }
        )
    return people
