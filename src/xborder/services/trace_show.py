"""A parcel's timeline: what the buyer's tracking page and ``xborder trace show`` display.

The timeline is the parcel's own events plus those of the bags that carried it, labelled with
lifecycle words, with places and parties by name (a hub's or a party's name, not a URI), and the
exceptions derived from it as of the clock's now. A buyer proves the parcel with its tracking
number and destination postcode and sees time, status and place only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xborder.domain.errors import InvalidValue
from xborder.domain.identifiers import HUB_URI_PREFIX
from xborder.services.trace_capture import epoch_ms, hash_id_of
from xborder.services.trace_read import READ_COLUMNS, resolve
from xborder.store.trace_repo import TraceRepository
from xborder.store.uow import UnitOfWork
from xborder.trace.exceptions import Checkpoint, Finding, Thresholds, findings
from xborder.trace.lifecycle import LIFECYCLE, step_of
from xborder.trace.visibility import Viewer

HUB_PREFIX = HUB_URI_PREFIX
WAREHOUSE_PREFIX = "https://xborder.dev/loc/warehouse/"
_GLN = re.compile(r"^https://id\.gs1\.org/414/(\d{13})(?:/.*)?$")


@dataclass(frozen=True, slots=True)
class ShowParcel:
    """Show ``parcel`` (tracking number or SSCC link) to ``viewer`` (default: the operator), or
    to its buyer when ``postcode`` is given; exceptions as of ``now`` (default: the clock's)."""

    parcel: str
    postcode: str | None = None
    viewer: Viewer | None = None
    now: datetime | None = None
    default_p95_days: float = 10.0
    slack_days: float = 2.0
    silence_days: float = 7.0

    def effective_viewer(self) -> Viewer:
        if self.postcode is not None:
            if self.viewer is not None:
                raise InvalidValue("postcode", "give a postcode (as the buyer) or a viewer")
            return Viewer.buyer(self.parcel, self.postcode)
        return self.viewer if self.viewer is not None else Viewer.operator()


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One event on the timeline. ``place`` is a name where the store knows one (hub, warehouse,
    or the party owning a GLN), else the location URI; the fields after ``location`` are None
    in a buyer's view."""

    time: datetime
    status: str
    place: str | None
    location: str | None
    party: str | None = None
    party_name: str | None = None
    event_type: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    event_id: str | None = None

    def as_dict(self, public: bool = False) -> dict[str, Any]:
        """JSON form; ``public`` (a buyer's view) leaves out parties and event details."""
        out: dict[str, Any] = {
            "time": self.time.isoformat(timespec="milliseconds"),
            "status": self.status,
            "place": self.place,
            "location": self.location,
        }
        if not public:
            out.update(
                party=self.party,
                party_name=self.party_name,
                event_type=self.event_type,
                bizStep=self.biz_step,
                disposition=self.disposition,
                eventID=self.event_id,
            )
        return out


@dataclass(frozen=True, slots=True)
class Timeline:
    tracking_no: str | None
    key: str
    status: str | None
    points: list[TimelinePoint]
    exceptions: list[Finding]
    public: bool = False  # the buyer's view
    party_names: dict[str, str] = field(default_factory=dict)  # custodians' names

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracking_no": self.tracking_no,
            "sscc": self.key,
            "status": self.status,
            "checkpoints": [c.as_dict(self.public) for c in self.points],
            "exceptions": [
                {
                    "kind": f.kind.value,
                    "at": datetime.fromtimestamp(f.at_ms / 1000, UTC).isoformat(),
                    "custodian": f.custodian,
                    "detail": f.detail,
                }
                for f in self.exceptions
            ],
        }


def _label(
    event_type: str | None, action: str | None, biz_step: str | None, disposition: str | None
) -> str:
    step = step_of(event_type, action, biz_step, disposition)
    if step is not None:
        return LIFECYCLE[step].label
    word = (biz_step or "event").rsplit("/", 1)[-1].replace("BizStep-", "")
    return word.replace("_", " ").capitalize()


def place_names(repo: TraceRepository, locations: Sequence[str | None]) -> dict[str, str]:
    """Location URI -> human name, for the URIs the store can name."""
    uris = {u for u in locations if u}
    hubs = {u: u[len(HUB_PREFIX) :] for u in uris if u.startswith(HUB_PREFIX)}
    houses = {u: u[len(WAREHOUSE_PREFIX) :] for u in uris if u.startswith(WAREHOUSE_PREFIX)}
    glns = {u: m.group(1) for u in uris if (m := _GLN.match(u))}
    out: dict[str, str] = {}
    for wanted, names in (
        (hubs, repo.hub_names(sorted(set(hubs.values()))) if hubs else {}),
        (houses, repo.warehouse_names(sorted(set(houses.values()))) if houses else {}),
        (glns, repo.party_names_by_gln(sorted(set(glns.values()))) if glns else {}),
    ):
        out.update({uri: names[ident] for uri, ident in wanted.items() if ident in names})
    return out


_GS1_KEYS = {"00": "SSCC", "414": "GLN", "01": "GTIN", "8004": "GIAI", "253": "GDTI"}


def short_place(place: str | None) -> str:
    """A place or an EPC for an 80-column view: a name as it is, a GS1 Digital Link as its key
    (``SSCC 012345670000000017``), another URI cut to its last two words
    (``https://xborder.dev/loc/warehouse/WH1`` -> ``warehouse WH1``)."""
    if not place:
        return ""
    if "://" not in place and not place.startswith("urn:"):
        return place
    path = place.split("?", 1)[0]
    if path.startswith("https://id.gs1.org/"):
        ai, _, rest = path.removeprefix("https://id.gs1.org/").partition("/")
        if ai in _GS1_KEYS and rest:
            return f"{_GS1_KEYS[ai]} {rest}"
    parts = [p for p in re.split(r"[/:]", path) if p]
    return " ".join(parts[-2:])


def show(uow: UnitOfWork, command: ShowParcel) -> Timeline:
    """A parcel's timeline (own events plus its bags' while inside) and derived exceptions."""
    viewer = command.effective_viewer()
    with uow:
        repo = uow.trace
        obj = resolve(repo, viewer, command.parcel)
        rows = sorted(
            repo.history(int(obj["id"]), READ_COLUMNS), key=lambda r: (r.event_time_ms, r.id)
        )
        public = viewer.is_buyer
        locations = [r.biz_location or r.read_point for r in rows]
        places = place_names(repo, locations)
        history = [Checkpoint(r.event_time_ms, r.party_id, r.biz_step, r.disposition) for r in rows]
        limits = Thresholds(
            repo.lane_p95(obj["lane"]) or command.default_p95_days,
            command.slack_days,
            command.silence_days,
        )
        now = command.now if command.now is not None else uow.clock.now()
        found = findings(history, epoch_ms(now), limits)
        parties = {r.party_id for r in rows} | {f.custodian for f in found if f.custodian}
        names = {} if public else repo.party_names(sorted(parties))
    points = []
    for r, location in zip(rows, locations, strict=True):
        point = TimelinePoint(
            time=datetime.fromtimestamp(r.event_time_ms / 1000, UTC),
            status=_label(r.event_type, r.action, r.biz_step, r.disposition),
            place=places.get(location, location) if location else None,
            location=location,
        )
        if not public:
            point = TimelinePoint(
                point.time,
                point.status,
                point.place,
                location,
                party=r.party_id,
                party_name=names.get(r.party_id),
                event_type=r.event_type,
                biz_step=r.biz_step,
                disposition=r.disposition,
                event_id=hash_id_of(bytes(r.hash)),
            )
        points.append(point)
    if public:  # buyers learn that something is wrong, not who is liable
        found = [Finding(f.kind, f.at_ms, None, "") for f in found]
    return Timeline(
        obj["tracking_no"],
        obj["key"],
        points[-1].status if points else None,
        points,
        found,
        public,
        names,
    )


def history_rows(uow: UnitOfWork, object_id: int) -> list[Any]:
    """Raw history rows of one object (the benchmark's p99 path; settlement's custody read)."""
    with uow:
        return uow.trace.history(object_id, READ_COLUMNS)
