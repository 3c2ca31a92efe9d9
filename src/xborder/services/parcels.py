"""The parcel lifecycle use cases: pack planned orders into parcels, record every later step.

Each use case records its facts, writes their EPCIS events (hashed, chained, signed) and moves
the parcels' and orders' states in one transaction, so a parcel's stored state always equals the
fold of its trace events (``xborder.domain.lifecycle``). A step the lifecycle does not allow
(delivering a parcel that never departed) raises ``InvalidTransition`` and changes nothing; so
does a step dated after the clock's now or before the parcel's last step.

Bags: a bag moves as one from consolidation until it is opened at destination. Steps recorded on
the bag (departed, arrived, export clearance, deconsolidated) move every parcel inside it; a
parcel inside a closed bag takes no step of its own except export clearance holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xborder.domain.clock import aware_utc
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.identifiers import hub_uri, parcel_id, sscc, tracking_number
from xborder.domain.lifecycle import (
    ALLOWED_PAIRS,
    ORDER_TRANSITIONS,
    STATE_AFTER,
    InvalidTransition,
    ParcelStatus,
    Step,
    order_reachable,
    order_status_from_parcels,
)
from xborder.domain.orders import OrderStatus
from xborder.domain.timezones import utc_offset
from xborder.services.customs import declared_orders
from xborder.services.trace import ObjectSpec, capture, register_objects
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.lifecycle import BTT_ORDER

ORDER_TX = "https://xborder.dev/tx/order/"
# Steps a bag takes as a whole (they move every parcel inside it).
BAG_STEPS = frozenset(
    {Step.DEPARTED, Step.ARRIVED, Step.DECONSOLIDATED, Step.EXPORT_HELD, Step.EXPORT_INSPECTED,
     Step.EXPORT_RELEASED, Step.EXPORT_REJECTED}
)  # fmt: skip
# Steps recorded by other use cases (packing, bagging) or only on a bag, never on a parcel here.
NOT_PARCEL_STEPS = frozenset(
    {Step.ORDER_PLACED, Step.PICKED_PACKED, Step.CONSOLIDATED, Step.DECONSOLIDATED}
)
# Steps a parcel inside a closed bag may still take on its own.
IN_BAG_STEPS = frozenset({Step.EXPORT_HELD, Step.EXPORT_INSPECTED})
# Who records a step when the fact does not say: the party in custody at that point.
LAST_MILE_STEPS = frozenset({Step.OUT_FOR_DELIVERY, Step.DELIVERY_ATTEMPT, Step.DELIVERED,
                             Step.DAMAGED, Step.LOST, Step.RETURNED})  # fmt: skip


def _not_after_now(uow: UnitOfWork, at: datetime, field_name: str) -> datetime:
    moment = aware_utc(at, field_name)
    now = uow.clock.now()
    if moment > now:
        raise InvalidValue(field_name, f"is after the clock's now ({now.isoformat()})",
                           moment.isoformat())  # fmt: skip
    return moment


# --- packing ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PackOrders:
    """Pack planned orders (``None``: every planned order not packed yet), at ``at`` (default:
    the clock's now). Naming an order that is not planned, or already packed, is refused."""

    order_ids: tuple[int, ...] | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PackResult:
    parcels: int
    events: int
    tracking_numbers: list[str] = field(default_factory=list)


def pack_orders(uow: UnitOfWork, command: PackOrders | None = None) -> PackResult:
    """Create each order's parcel (SSCC, tracking number, destination), take its reserved stock
    off the shelf, and write its order and packing events, signed by platform and warehouse."""
    cmd = command or PackOrders()
    with uow:
        at = _not_after_now(uow, cmd.at or uow.clock.now(), "at")
        rows = uow.parcels.to_pack(OrderStatus.PLANNED.value, cmd.order_ids)
        if cmd.order_ids is not None:
            _refuse_unpackable(uow, set(cmd.order_ids) - {int(r["order_id"]) for r in rows})
        if not rows:
            return PackResult(0, 0)
        parties = uow.parcels.route_parties()
        declared = declared_orders(uow, [int(r["order_id"]) for r in rows])
        parcels, specs, events = [], [], []
        for r in rows:
            oid = int(r["order_id"])
            code, tracking = sscc(oid), tracking_number(oid)
            key = sscc_link(code)
            placed = r["placed_at"] if r["placed_at"].tzinfo else r["placed_at"].replace(tzinfo=UTC)
            parcels.append({
                "id": parcel_id(oid), "order_id": oid, "sscc": code, "tracking_no": tracking,
                "gross_kg": round(float(r["gross_kg"]), 3), "volume_cm3": round(float(r["cm3"]), 1),
                "warehouse_id": r["warehouse_id"], "lane_id": r["lane_id"],
                "departure_date": r["departure_date"], "status": ParcelStatus.PACKED.value,
                "consolidation_id": None, "last_mile_id": r["last_mile_id"],
                "destination_country": r["consignee_country"],
                "destination_postcode": r["consignee_postcode"], "promised_by": r["promised_by"],
                "packed_at": at, "departed_at": None, "delivered_at": None, "status_at": at,
                "declared": oid in declared,
            })  # fmt: skip
            takers = {r["seller_id"], r["platform_id"] or r["seller_id"], r["operator_id"],
                      r["lane_carrier"], r["last_mile_carrier"]} - {None}  # fmt: skip
            specs.append(ObjectSpec(
                key, tracking_no=tracking, sscc=code, order_id=oid, lane=r["lane_id"],
                destination_postcode=r["consignee_postcode"], participants=tuple(sorted(takers)),
            ))  # fmt: skip
            hub = parties["warehouses"][str(r["warehouse_id"])]["hub_id"]
            tz = utc_offset(r["warehouse_country"], at)
            events.append({
                "object_key": key, "step": Step.ORDER_PLACED.value, "event_time": min(placed, at),
                "tz_offset": utc_offset(r["consignee_country"], placed),
                "party_id": r["platform_id"] or r["seller_id"],
                "transactions": [{"type": BTT_ORDER, "id": f"{ORDER_TX}{oid}"}],
            })  # fmt: skip
            events.append({
                "object_key": key, "step": Step.PICKED_PACKED.value, "event_time": at,
                "tz_offset": tz, "party_id": r["operator_id"],
                "read_point": hub_uri(hub) if hub else None,
            })  # fmt: skip
        uow.parcels.add(parcels)
        uow.planning.consume([p["order_id"] for p in parcels])
        register_objects(uow, specs)
        written = capture(uow, capture_frame(events)).events
        uow.commit()
    return PackResult(len(parcels), written, [p["tracking_no"] for p in parcels])


def _refuse_unpackable(uow: UnitOfWork, order_ids: set[int]) -> None:
    if not order_ids:
        return
    statuses = uow.parcels.order_statuses(sorted(order_ids))
    first = min(order_ids)
    if first not in statuses:
        raise NotFound(f"order {first} does not exist")
    status = statuses[first]
    if status == OrderStatus.PLANNED.value:
        reason = "is already packed, or its plan found no source"
    else:
        reason = f"is {status}: only planned orders are packed"
    raise Conflict(f"order {first}: packing refused: the order {reason}")


# --- recording steps --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepFact:
    """One fact about a parcel (tracking number or SSCC) or a bag (SSCC, master waybill or id).

    ``party`` records it (default: the party in custody for that step: the lane's carrier on the
    line haul and at customs, the last-mile carrier from out-for-delivery on); ``place`` is a
    read point URI or a hub id."""

    subject: str
    step: Step
    at: datetime
    party: str | None = None
    place: str | None = None


@dataclass(frozen=True, slots=True)
class RecordSteps:
    facts: tuple[StepFact, ...]


@dataclass(frozen=True, slots=True)
class StepReport:
    events: int
    parcels_moved: int
    orders_moved: dict[str, int] = field(default_factory=dict)  # new order status -> orders
    parcels_reached: dict[str, int] = field(default_factory=dict)  # state -> parcels entering it


@dataclass
class _Move:
    """One parcel's state change caused by one fact (a bag's fact moves each of its parcels)."""

    parcel: dict[str, Any]
    step: Step
    at: datetime
    rank: int


def record_steps(uow: UnitOfWork, command: RecordSteps) -> StepReport:
    """Record facts in time order, all or nothing."""
    with uow:
        report = _record(uow, command.facts)
        uow.commit()
    return report


def _record(uow: UnitOfWork, facts: Sequence[StepFact]) -> StepReport:
    if not facts:
        return StepReport(0, 0)
    stamped = [(_not_after_now(uow, f.at, f"{f.subject}.at"), i, f) for i, f in enumerate(facts)]
    stamped.sort(key=lambda t: (t[0], t[1]))
    subjects = list(dict.fromkeys(f.subject for f in facts))
    bags = {b[k]: b for b in uow.parcels.bags(subjects) for k in ("id", "sscc", "master_waybill")}
    found = uow.parcels.find([s for s in subjects if s not in bags])
    parcel_of = {r["subject"]: r for r in found.iter_rows(named=True)}
    missing = next((s for s in subjects if s not in bags and s not in parcel_of), None)
    if missing is not None:
        raise NotFound(f"no parcel or bag {missing!r}")
    bag_ids = sorted({b["id"] for b in bags.values()})
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in uow.parcels.members(bag_ids).iter_rows(named=True) if bag_ids else ():
        members[m["consolidation_id"]].append(m)
    in_closed = {c for c in {p["consolidation_id"] for p in parcel_of.values()} if c}
    in_closed |= {b["id"] for b in bags.values() if b["opened_at"] is None}
    in_closed -= uow.parcels.opened(sorted(in_closed)) if in_closed else set()
    current: dict[str, dict[str, Any]] = {}  # parcel id -> its row, updated as facts apply
    for p in list(parcel_of.values()) + [m for ms in members.values() for m in ms]:
        current.setdefault(p["id"], dict(p))
    moves: list[_Move] = []
    bag_moves: dict[str, list[tuple[Step, datetime]]] = defaultdict(list)
    # Each fact's level: one more than the last level of every parcel it moves. Events are
    # captured level by level, so a parcel's later event always gets the higher event id, even
    # when two of its facts share an instant and were recorded by different parties (the ledger
    # numbers each party's batch in one run). Readers order a history by (time, id).
    level_of: dict[str, int] = {}
    levels: list[int] = []
    for rank, (at, _i, fact) in enumerate(stamped):
        step = Step(fact.step)
        if fact.subject in bags:
            bag = bags[fact.subject]
            if step not in BAG_STEPS:
                raise InvalidValue(
                    f"{fact.subject}.step",
                    f"not a step a bag takes as a whole; one of {', '.join(sorted(BAG_STEPS))}",
                    step.value,
                )
            if bag["opened_at"] is not None:
                raise InvalidTransition(f"bag {bag['id']}", "opened", step.value, ())
            bag_moves[bag["id"]].append((step, at))
            moves.extend(_Move(current[m["id"]], step, at, rank) for m in members[bag["id"]])
            inside = [m["id"] for m in members[bag["id"]]]
            level = 1 + max((level_of.get(pid, -1) for pid in inside), default=-1)
            level_of.update((pid, level) for pid in inside)
            if step == Step.DECONSOLIDATED:  # its parcels take their own steps from now on
                in_closed.discard(bag["id"])
                bag["opened_at"] = at
        else:
            parcel = current[parcel_of[fact.subject]["id"]]
            if step in NOT_PARCEL_STEPS:
                raise InvalidValue(f"{fact.subject}.step", "recorded by packing or on a bag, not "
                                   "on a parcel", step.value)  # fmt: skip
            if parcel["consolidation_id"] in in_closed and step not in IN_BAG_STEPS:
                raise Conflict(f"parcel {parcel['tracking_no']} is inside bag "
                               f"{parcel['consolidation_id']}: record {step.value} on the bag, "
                               "or after the bag is opened")  # fmt: skip
            moves.append(_Move(parcel, step, at, rank))
            level = level_of.get(parcel["id"], -1) + 1
            level_of[parcel["id"]] = level
        levels.append(level)
    changed, reached = _apply(moves)
    events = _events(uow, stamped, bags, parcel_of, members)
    written = 0
    for level in sorted(set(levels)):
        frame = capture_frame([e for e, lv in zip(events, levels, strict=True) if lv == level])
        written += capture(uow, frame).events
    uow.parcels.set_states([
        {"id": p["id"], "status": p["status"], "status_at": p["status_at"],
         "departed_at": p["departed_at"], "delivered_at": p["delivered_at"]}
        for p in changed
    ])  # fmt: skip
    uow.parcels.set_bag_states([
        {"id": bid, "status": s[-1][0].value, "status_at": s[-1][1],
         "opened_at": next((t for st, t in s if st == Step.DECONSOLIDATED), None)}
        for bid, s in bag_moves.items()
    ])  # fmt: skip
    orders = _move_orders(uow, {int(p["order_id"]) for p in changed})
    return StepReport(written, len(changed), orders, reached)


def _apply(moves: Iterable[_Move]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Fold each move onto its parcel (in time order); raise on the first illegal one.
    Returns the changed parcels and how many parcels entered each state."""
    changed: dict[str, dict[str, Any]] = {}
    reached: dict[str, int] = defaultdict(int)
    for move in sorted(moves, key=lambda m: m.rank):
        p = move.parcel
        if (p["status"], move.step.value) not in ALLOWED_PAIRS:
            raise InvalidTransition(f"parcel {p['tracking_no']}", p["status"], move.step.value)
        if p["status_at"] is not None and move.at < p["status_at"]:
            raise InvalidValue(f"{p['tracking_no']}.at", "is before the parcel's last step "
                               f"({p['status_at'].isoformat()})", move.at.isoformat())  # fmt: skip
        after = STATE_AFTER[move.step]
        if after is not None and after.value != p["status"]:
            p["status"] = after.value
            reached[after.value] += 1
        p["status_at"] = move.at
        if move.step == Step.DEPARTED and p["departed_at"] is None:
            p["departed_at"] = move.at
        if move.step == Step.DELIVERED and p["delivered_at"] is None:
            p["delivered_at"] = move.at
        changed[p["id"]] = p
    return list(changed.values()), dict(reached)


def _events(
    uow: UnitOfWork, stamped: Sequence[tuple[datetime, int, StepFact]], bags: dict[str, Any],
    parcel_of: dict[str, Any], members: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:  # fmt: skip
    parties = uow.parcels.route_parties()
    out = []
    for at, _i, fact in stamped:
        step = Step(fact.step)
        bag = bags.get(fact.subject)
        row = bag if bag is not None else parcel_of[fact.subject]
        lane = parties["lanes"].get(str(row["lane_id"])) if row["lane_id"] else None
        last = None if bag is not None or not row["last_mile_id"] else \
            parties["last_mile"].get(str(row["last_mile_id"]))  # fmt: skip
        party = fact.party or _custodian(step, lane, last, parties, row)
        country = _where(step, lane, last)
        place = fact.place
        if place is None and lane is not None and step in BAG_STEPS | {Step.IMPORT_RELEASED}:
            at_origin = step == Step.DEPARTED or step.value.startswith("export_")
            hub = lane["origin_hub"] if at_origin else lane["dest_hub"]
            place = hub
        event: dict[str, Any] = {
            "object_key": sscc_link(row["sscc"]), "step": step.value, "event_time": at,
            "tz_offset": utc_offset(country, at), "party_id": party,
            "read_point": place if place is None or "://" in place else hub_uri(place),
        }  # fmt: skip
        if bag is not None and step == Step.DECONSOLIDATED:
            event["children"] = [sscc_link(m["sscc"]) for m in members[bag["id"]]]
        out.append(event)
    return out


def _custodian(
    step: Step, lane: dict[str, Any] | None, last: dict[str, Any] | None,
    parties: dict[str, dict[str, dict[str, Any]]], row: dict[str, Any],
) -> str:  # fmt: skip
    if step in LAST_MILE_STEPS and last is not None:
        return str(last["carrier_id"])
    if lane is not None:
        return str(lane["carrier_id"])
    house = parties["warehouses"].get(str(row.get("warehouse_id")))
    if house is not None and step not in LAST_MILE_STEPS:  # cleared at the (bonded) warehouse
        return str(house["operator_id"])
    if last is not None:
        return str(last["carrier_id"])
    if house is None:
        raise InvalidValue(f"{row['sscc']}.party", "no party answers for this step: name one")
    return str(house["operator_id"])


def _where(step: Step, lane: dict[str, Any] | None, last: dict[str, Any] | None) -> str | None:
    if last is not None:
        return str(last["country"])
    if lane is None:
        return None
    at_origin = step == Step.DEPARTED or step.value.startswith("export_")
    return str(lane["origin_country"]) if at_origin else str(lane["dest_country"])


def _move_orders(uow: UnitOfWork, order_ids: set[int]) -> dict[str, int]:
    """Each touched order takes the state its parcels give it (if that is a legal move)."""
    if not order_ids:
        return {}
    ids = sorted(order_ids)
    statuses = uow.parcels.order_statuses(ids)
    per_order: dict[int, list[str]] = defaultdict(list)
    for oid, status in uow.parcels.of_orders(ids).select("order_id", "status").iter_rows():
        per_order[int(oid)].append(str(status))
    moves: list[tuple[int, str]] = []
    for oid in ids:
        target = order_status_from_parcels(per_order[oid])
        current = OrderStatus(statuses[oid])
        if target is None or target == current:
            continue
        if not order_reachable(current, target):
            raise InvalidTransition(
                f"order {oid}",
                current.value,
                f"becoming {target.value}",
                [s.value for s in ORDER_TRANSITIONS[current]],
            )
        moves.append((oid, target.value))
    uow.parcels.set_order_statuses(moves)
    counts: dict[str, int] = defaultdict(int)
    for _oid, status in moves:
        counts[status] += 1
    return dict(counts)
