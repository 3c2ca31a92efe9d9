"""Who may read what: parties see parcels they take part in; buyers see a public subset.

A party takes part in an object when it is a declared participant or has captured one of its
events (capture records it as a participant). A parcel's history includes the events of the bags
that carried it, so its parties see those too; a bag's own parties do not thereby see the
parcels' other events. A buyer proves the parcel with tracking number plus destination postcode
(the AfterShip model) and sees time, status and place only: no parties, no documents, no
business transactions. The operator (the platform itself) sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from xborder.domain.errors import DomainError


class NotVisible(DomainError, PermissionError):
    """The viewer may not read this object; said the same way as 'no such parcel' on purpose."""


@dataclass(frozen=True, slots=True)
class Viewer:
    party_id: str | None = None
    tracking_no: str | None = None
    postcode: str | None = None

    @classmethod
    def operator(cls) -> Viewer:
        return cls()

    @classmethod
    def party(cls, party_id: str) -> Viewer:
        return cls(party_id=party_id)

    @classmethod
    def buyer(cls, tracking_no: str, postcode: str) -> Viewer:
        return cls(tracking_no=tracking_no, postcode=postcode)

    @property
    def is_operator(self) -> bool:
        return self.party_id is None and self.tracking_no is None

    @property
    def is_buyer(self) -> bool:
        return self.tracking_no is not None


def normalise_postcode(postcode: str) -> str:
    return "".join(postcode.split()).upper()


def buyer_may_see(
    viewer: Viewer, tracking_no: str | None, destination_postcode: str | None
) -> bool:
    if viewer.tracking_no is None or viewer.postcode is None or destination_postcode is None:
        return False
    return viewer.tracking_no == tracking_no and normalise_postcode(
        viewer.postcode
    ) == normalise_postcode(destination_postcode)


def party_may_see(viewer: Viewer, participants: set[str]) -> bool:
    return viewer.party_id is not None and viewer.party_id in participants


def may_see(
    viewer: Viewer,
    participants: set[str],
    tracking_no: str | None,
    destination_postcode: str | None,
) -> bool:
    if viewer.is_operator:
        return True
    if viewer.is_buyer:
        return buyer_may_see(viewer, tracking_no, destination_postcode)
    return party_may_see(viewer, participants)
