"""Simulated outside parties behind the platform's ports: carriers, customs, buyers paying.

Each answer is drawn from the world's own figures (a lane's transit mean and 95th percentile, its
loss rate; a last-mile carrier's first-attempt, damage and loss rates) with a random generator
seeded by (seed, shipment, its state, since when): the same history always gives the same next
step, whichever day or order the simulator asks in, so a run is reproducible bit for bit.

Asked "what happened up to ``until``", a party answers with the chain of steps it can take by
then (a bag departs, arrives and is opened in one answer when the times allow), never a step
dated after ``until``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from xborder.domain.lifecycle import ParcelStatus, Step
from xborder.domain.money import Money, minor_units
from xborder.domain.network import Lane, LastMileCarrier
from xborder.domain.orders import PaymentRecord
from xborder.domain.timezones import COUNTRY_ZONE
from xborder.domain.world import World
from xborder.services.customs_variance import RecordAssessment
from xborder.services.ports import (
    AwaitingPayment,
    CustomsOutcome,
    Shipment,
    TrackingEvent,
)
from xborder.simulation.config import Disruption

T = TypeVar("T")
Z95 = 1.6448536269514722  # standard normal 95th percentile
P = ParcelStatus


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator for one decision: stable across runs, processes and call orders."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def lognormal_days(rng: np.random.Generator, mean: float, p95: float) -> float:
    """A lognormal draw whose mean and 95th percentile are the given figures."""
    sigma = max(math.log(max(p95, mean * 1.0001) / mean) / Z95, 1e-3)
    mu = math.log(mean) - sigma * sigma / 2
    return float(rng.lognormal(mu, sigma))


MEMORY = 400_000  # remembered chains; past that the memory starts afresh (draws are pure)


def _remember(memory: dict[Any, T], key: Any, draw: Callable[[], T]) -> T:
    """``draw()`` once per key: the answer depends only on the key (seeded), so forgetting
    it changes nothing but time."""
    if key in memory:
        return memory[key]
    if len(memory) >= MEMORY:
        memory.clear()
    value = memory[key] = draw()
    return value


def _hours(rng: np.random.Generator, low: float, high: float) -> timedelta:
    return timedelta(hours=float(rng.uniform(low, high)))


@dataclass
class SimulatedCarriers:
    """Every carrier of the world: line haul by lane, hubs, last mile by service.

    ``disruptions`` (from ``first_day`` on) move departures: a delayed flight leaves late, a
    closed port or a cut capacity holds bags until the first departure after it. Parcels handed
    over ``loose`` (not bagged by the platform) are sorted at the carrier's hub first and leave
    ``loose_delay_hours`` later. A share ``untracked`` of parcels go with last-mile carriers
    that are not connected: their scans reach the platform only with the next scan after them.
    """

    world: World
    seed: int
    disruptions: tuple[Disruption, ...] = ()
    first_day: date | None = None
    loose: bool = False
    loose_delay_hours: float = 0.0
    untracked: float = 0.0
    _closed: dict[str, list[Disruption]] = field(default_factory=dict, init=False)
    _chains: dict[Any, list[TrackingEvent]] = field(default_factory=dict, init=False)
    _unconnected: dict[str, bool] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.lanes: dict[str, Lane] = {ln.id: ln for ln in self.world.lanes}
        self.last_mile: dict[str, LastMileCarrier] = {m.id: m for m in self.world.last_mile}
        self.hub_country = {h.id: h.country for h in self.world.hubs}
        for lane in self.world.lanes:
            countries = {self.hub_country.get(lane.origin_hub), lane.dest_country}
            self._closed[lane.id] = [
                d for d in self.disruptions
                if d.kind != "customs_slowdown"
                and (d.lane in (None, lane.id)) and (d.country is None or d.country in countries)
            ]  # fmt: skip

    def track(self, shipments: Sequence[Shipment], until: datetime) -> list[TrackingEvent]:
        """The scans up to ``until``. A shipment's whole chain from its current state is drawn
        once and remembered: the runner asks again every cycle until the scans' times pass."""
        out: list[TrackingEvent] = []
        for s in shipments:
            key = (s.subject, s.kind, s.status, s.since)
            chain = _remember(self._chains, key, partial(self._chain, s))
            seen = [e for e in chain if e.at <= until]
            if (s.kind == "parcel" and seen and seen[-1].step == Step.OUT_FOR_DELIVERY
                    and self._untracked(s.subject)):  # fmt: skip
                continue  # an unconnected carrier: the scan arrives with the next one
            out.extend(seen)
        return out

    def _chain(self, s: Shipment) -> list[TrackingEvent]:
        return self._bag(s) if s.kind == "bag" else self._parcel(s)

    # --- line haul: a bag departs at the lane's cut-off, arrives, is opened at the hub -------
    def _departure(self, lane: Lane, s: Shipment) -> datetime:
        zone = ZoneInfo(COUNTRY_ZONE.get(self.hub_country.get(lane.origin_hub, "CN"), "UTC"))
        hour, minute = (int(x) for x in lane.cutoff.split(":"))
        day = s.departure_date or s.since.date()
        local = datetime.combine(day, time(hour, minute), tzinfo=zone) + timedelta(hours=3)
        leaves = max(local.astimezone(UTC), s.since + timedelta(hours=1))
        if self.loose:
            leaves += timedelta(hours=self.loose_delay_hours)
        return self._disrupted(lane, s, leaves, zone, (hour, minute))

    def _disrupted(self, lane: Lane, s: Shipment, leaves: datetime, zone: ZoneInfo,
                   cutoff: tuple[int, int]) -> datetime:  # fmt: skip
        if self.first_day is None:
            return leaves
        for d in self._closed.get(lane.id, ()):
            on = leaves.astimezone(zone).date()
            if not d.active(self.first_day, on):
                continue
            if d.kind == "delayed_departure":
                leaves += timedelta(hours=d.hours)
                continue
            held = d.kind == "port_closure" or (
                _rng(self.seed, s.subject, "capacity", on.isoformat()).random() >= d.factor
            )
            if held:  # the first departure after it: the reopening day's cut-off
                reopen = datetime.combine(d.ends(self.first_day), time(*cutoff), tzinfo=zone)
                leaves = max(leaves, (reopen + timedelta(hours=3)).astimezone(UTC))
        return leaves

    def _bag(self, s: Shipment) -> list[TrackingEvent]:
        lane = self.lanes.get(s.lane_id or "")
        if lane is None:
            return []
        out: list[TrackingEvent] = []
        status, at = s.status, s.since
        origin_cn = self.hub_country.get(lane.origin_hub) == "CN"
        if status == Step.CONSOLIDATED.value and origin_cn:
            cleared = max(at + timedelta(minutes=30), self._departure(lane, s) - timedelta(hours=3))
            status, at = Step.EXPORT_RELEASED.value, cleared  # 9610 export list cleared
            out.append(TrackingEvent(s.subject, Step.EXPORT_RELEASED, at))
        if status in (Step.CONSOLIDATED.value, Step.EXPORT_RELEASED.value):
            status, at = (
                Step.DEPARTED.value,
                max(at + timedelta(minutes=30), self._departure(lane, s)),
            )
            out.append(TrackingEvent(s.subject, Step.DEPARTED, at))
        if status == Step.DEPARTED.value:
            rng = _rng(self.seed, s.subject, "line haul", at.isoformat())
            days = lognormal_days(rng, lane.transit_mean_days, lane.transit_p95_days)
            status, at = Step.ARRIVED.value, at + timedelta(days=days)
            out.append(TrackingEvent(s.subject, Step.ARRIVED, at))
        if status == Step.ARRIVED.value:
            at += _hours(_rng(self.seed, s.subject, "unpack", at.isoformat()), 2, 8)
            out.append(TrackingEvent(s.subject, Step.DECONSOLIDATED, at))
        return out

    # --- at the hub and in the last mile ------------------------------------------------------
    def _parcel(self, s: Shipment) -> list[TrackingEvent]:
        rng = _rng(self.seed, s.subject, s.status, s.since.isoformat())
        lane = self.lanes.get(s.lane_id or "")
        if s.status == P.ARRIVED.value:  # a parcel found missing when its bag is opened
            lost = lane is not None and rng.random() < lane.loss_rate
            event = TrackingEvent(s.subject, Step.LOST, s.since + timedelta(minutes=5))
            return [event] if lost else []
        carrier = self.last_mile.get(s.last_mile_id or "")
        if carrier is None:
            return []
        out: list[TrackingEvent] = []
        status, at = s.status, s.since
        if status in (P.PACKED.value, P.IMPORT_CLEARED.value, P.DELIVERY_ATTEMPTED.value):
            wait = (6, 20) if status != P.DELIVERY_ATTEMPTED.value else (16, 30)
            status, at = P.OUT_FOR_DELIVERY.value, at + _hours(rng, *wait)
            out.append(TrackingEvent(s.subject, Step.OUT_FOR_DELIVERY, at))
            rng = _rng(self.seed, s.subject, status, at.isoformat())
        if status == P.OUT_FOR_DELIVERY.value:
            days = lognormal_days(rng, carrier.transit_mean_days, carrier.transit_p95_days)
            done = at + timedelta(days=days)
            draw = rng.random()
            loss_below = carrier.loss_rate
            damage_below = loss_below + carrier.damage_rate + (lane.damage_rate if lane else 0.0)
            if draw < loss_below:
                out.append(TrackingEvent(s.subject, Step.LOST, done))
            elif draw < damage_below:
                out.append(TrackingEvent(s.subject, Step.DAMAGED, done))
                out.append(TrackingEvent(s.subject, Step.DELIVERED, done + timedelta(minutes=2)))
            elif rng.random() > carrier.first_attempt_rate and s.status != P.DELIVERY_ATTEMPTED:
                out.append(TrackingEvent(s.subject, Step.DELIVERY_ATTEMPT, done))
            else:
                out.append(TrackingEvent(s.subject, Step.DELIVERED, done))
        if status == P.DAMAGED.value:
            out.append(TrackingEvent(s.subject, Step.DELIVERED, at + timedelta(minutes=2)))
        return out

    def _untracked(self, subject: str) -> bool:
        if self.untracked <= 0:
            return False
        return _remember(self._unconnected, subject, partial(self._draw_untracked, subject))

    def _draw_untracked(self, subject: str) -> bool:
        return bool(_rng(self.seed, subject, "tracked").random() < self.untracked)


@dataclass
class SimulatedCustoms:
    """Import customs of every market: most parcels released within hours, a few held for
    review, inspected or refused (``hold``, ``inspect``, ``reject`` shares of parcels)."""

    seed: int
    hold: float = 0.02
    inspect: float = 0.03
    reject: float = 0.002
    document_error: float = 0.0  # declarations whose documents disagree: held until corrected
    disruptions: tuple[Disruption, ...] = ()
    first_day: date | None = None
    reassess: float = 0.06  # released declarations customs assesses other than quoted
    _outcomes: dict[Any, CustomsOutcome | None] = field(default_factory=dict, init=False)

    def _fate(self, subject: str) -> str:
        draw = _rng(self.seed, subject, "customs").random()
        for fate, below in (("reject", self.reject), ("hold", self.reject + self.hold),
                            ("inspect", self.reject + self.hold + self.inspect)):  # fmt: skip
            if draw < below:
                return fate
        if _rng(self.seed, subject, "documents").random() < self.document_error:
            return "hold"
        return "release"

    def _slowdown(self, s: Shipment) -> float:
        factor = 1.0
        if self.first_day is None:
            return factor
        for d in self.disruptions:
            if (d.kind == "customs_slowdown" and d.country in (None, s.country)
                    and d.active(self.first_day, s.since.date())):  # fmt: skip
                factor *= d.factor
        return factor

    def decide(self, shipments: Sequence[Shipment], until: datetime) -> list[CustomsOutcome]:
        out: list[CustomsOutcome] = []
        for s in shipments:
            key = (s.subject, s.status, s.since)
            outcome = _remember(self._outcomes, key, partial(self._outcome, s))
            if outcome is not None and outcome.at <= until:
                out.append(outcome)
        return out

    def _outcome(self, s: Shipment) -> CustomsOutcome | None:
        fate = self._fate(s.subject)
        rng = _rng(self.seed, s.subject, s.status, s.since.isoformat())
        slow = self._slowdown(s)
        if s.status in (P.ARRIVED.value, P.PACKED.value):  # at the border, or the bonded zone
            at = s.since + _hours(rng, 2, 30) * slow
            first = {
                "release": CustomsOutcome(s.subject, Step.IMPORT_RELEASED, at,
                                          ("120", "399", "800")),
                "hold": CustomsOutcome(s.subject, Step.IMPORT_HELD, at, ("120", "300")),
                "inspect": CustomsOutcome(s.subject, Step.IMPORT_INSPECTED, at,
                                          ("120", "500")),
                "reject": CustomsOutcome(s.subject, Step.IMPORT_REJECTED, at, ("120", "100")),
            }[fate]  # fmt: skip
            outcome: CustomsOutcome | None = first
        elif s.status == P.IMPORT_HELD.value and fate == "reject":
            outcome = CustomsOutcome(s.subject, Step.RETURNED, s.since + timedelta(days=5))
        elif s.status == P.IMPORT_HELD.value:
            codes = ("399", "800") if fate == "hold" else ("800",)
            at = s.since + _hours(rng, 20, 72) * slow
            outcome = CustomsOutcome(s.subject, Step.IMPORT_RELEASED, at, codes)
        else:
            outcome = None
        return outcome

    def assess(self, due: Iterable[Mapping[str, Any]]) -> list[RecordAssessment]:
        """Customs' assessment of released declarations (rows of ``assessment_due``): the quote
        as it was for most; for a ``reassess`` share (seeded by the order number) half are
        reclassified to a heading with a higher duty (the duty rises by half, or by a tenth of
        the VAT where none was quoted) and half get a valuation uplift (every component +10 %,
        rounded half up)."""
        out = []
        for row in due:
            no, currency = str(row["order_no"]), str(row["currency"])
            amounts = {k: int(row[f"{k}_minor"]) for k in _ASSESSED}
            draw = _rng(self.seed, no, "assess").random()
            reason = ""
            if draw < self.reassess / 2:
                amounts["duty"] += (amounts["duty"] + 1) // 2 if amounts["duty"] else (
                    amounts["vat"] + 5) // 10  # fmt: skip
                reason = "reclassified to a heading with a higher duty rate"
            elif draw < self.reassess:
                amounts = {k: (v * 11 + 5) // 10 for k, v in amounts.items()}
                reason = "valuation uplift: declared value raised by 10 %"
            places = minor_units(currency)
            out.append(RecordAssessment(
                no, "customs", f"SIM-{no}", currency=currency, reason=reason,
                **{k: Decimal(v).scaleb(-places) for k, v in amounts.items()},
            ))  # fmt: skip
        return out


_ASSESSED = ("duty", "additional_duty", "vat", "consumption_tax", "fees")


@dataclass
class SimulatedBuyers:
    """Buyers paying through the world's payment provider: ``share`` of them pay the order in
    full within half an hour of placing it; the others never do (their orders expire)."""

    seed: int
    provider: str
    share: float = 0.9
    _draws: dict[int, tuple[float, float]] = field(default_factory=dict, init=False)

    def collect(self, orders: Sequence[AwaitingPayment], until: datetime) -> list[PaymentRecord]:
        out: list[PaymentRecord] = []
        for o in orders:
            # the order's two draws, remembered: the runner asks about every unpaid order every
            # cycle until it expires
            will, minutes = _remember(self._draws, o.order_id, partial(self._draw, o.order_id))
            if will >= self.share or o.amount_minor <= 0:
                continue
            at = o.placed_at + timedelta(minutes=minutes)
            if at > until:
                continue
            amount: Decimal = Money.from_minor(o.amount_minor, o.currency).amount
            out.append(PaymentRecord(
                channel=o.channel, external_id=o.external_id, provider=self.provider,
                transaction_id=f"sim-{o.order_id}", payer_name=o.buyer_name,
                payer_id_number=o.buyer_id_number,
                amount=amount, currency=o.currency, paid_at=at,
            ))  # fmt: skip
        return out

    def _draw(self, order_id: int) -> tuple[float, float]:
        """Whether the buyer pays (below ``share``) and how many minutes after placing: the
        first two draws of the order's own generator (the second drawn even when unused)."""
        rng = _rng(self.seed, "pay", order_id)
        return float(rng.random()), float(rng.uniform(1, 30))
