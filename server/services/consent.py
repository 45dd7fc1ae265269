"""Consent: what an attendee lets the people they met see of them.

Each attendee sets two things:

- ``share_level``: ``none`` (nothing), ``name_company`` (name and company) or ``full``
  (name, company, title, email and phone);
- ``share_with``: ``tapped`` (only people they tapped badges with) or ``met`` (everyone
  they verifiably met, by proximity or tap).

A tap is mutual consent for that pair: the two badges signed one transcript, so each
side is in the other's audience whatever its ``share_with``; the level is still the
other side's ``share_level`` (``none`` means nobody, tap or not). An erased attendee
shows nothing. ``visible_contact`` is the one place applying these rules; every
attendee-facing export and response goes through it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol, get_args

ShareLevel = Literal["none", "name_company", "full"]
ShareWith = Literal["tapped", "met"]
SHARE_LEVELS: tuple[str, ...] = get_args(ShareLevel)
SHARE_WITH: tuple[str, ...] = get_args(ShareWith)


class Contact(NamedTuple):
    """The details of one attendee that a given viewer may see (``None``: hidden or empty).

    A named tuple: an export builds one per person met.
    """

    name: str
    company: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None


class Sharer(Protocol):
    """What the rules read of the other attendee: an ``Attendee`` row or a plain record.

    ``erased_at`` is only compared with ``None`` (set: the attendee was erased).
    """

    @property
    def name(self) -> str: ...
    @property
    def company(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def share_level(self) -> str: ...
    @property
    def share_with(self) -> str: ...
    @property
    def erased_at(self) -> object: ...


def visible_level(other: Sharer, *, is_tapped: bool) -> str:
    """Return the share level ``other`` grants a viewer they met (tapped or not)."""
    if other.erased_at is not None:
        return "none"
    if other.share_with == "tapped" and not is_tapped:
        return "none"
    return other.share_level if other.share_level in SHARE_LEVELS else "none"


def visible_contact(other: Sharer, *, is_tapped: bool) -> Contact | None:
    """Return what a viewer who met ``other`` may see of them, or ``None`` for nothing.

    Args:
        other: the attendee on the other side of the connection.
        is_tapped: whether viewer and ``other`` tapped badges (mutual consent).
    """
    level = visible_level(other, is_tapped=is_tapped)
    if level == "none":
        return None
    if level == "name_company":
        return Contact(other.name, other.company)
    return Contact(other.name, other.company, other.title, other.email, other.phone)
