"""Use cases that ask the outside parties (through their ports) and record what they answer.

- ``track_shipments``: carriers report scans of the bags and parcels in their hands; each scan
  goes through the lifecycle (``record_steps``) in one transaction.
- ``clear_customs``: customs decides on the parcels waiting for import clearance; its list
  receipts move the declaration's status and the parcel's step in the same transaction.
- ``collect_payments``: the payment provider reports what buyers paid; orders turn ``paid``.

Each is what an operator runs against real partners (on a schedule or on a webhook), and what
the simulator runs against simulated ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from xborder.domain.lifecycle import ParcelStatus, Step
from xborder.services.customs import RecordReceipts, declared_orders, record_receipts
from xborder.services.parcels import RecordSteps, StepFact, StepReport, record_steps
from xborder.services.payments import PaymentsReport, RecordPayments, record_payments
from xborder.services.ports import (
    AwaitingPayment,
    CarrierPort,
    CustomsPort,
    PaymentPort,
    Shipment,
)
from xborder.store.uow import UnitOfWork

P = ParcelStatus
# Bags travel as one until opened; parcels are tracked one by one after that, and from the
# warehouse when they go out for delivery in the buyer's country (no line haul).
BAG_IN_TRANSIT = (Step.CONSOLIDATED.value, Step.EXPORT_RELEASED.value, Step.DEPARTED.value,
                  Step.ARRIVED.value)  # fmt: skip
PARCEL_IN_TRANSIT = (P.PACKED.value, P.ARRIVED.value, P.IMPORT_CLEARED.value,
                     P.OUT_FOR_DELIVERY.value,
                     P.DELIVERY_ATTEMPTED.value, P.DAMAGED.value)  # fmt: skip
AT_CUSTOMS = (P.ARRIVED.value, P.IMPORT_HELD.value, P.PACKED.value)


def _shipments(uow: UnitOfWork, bag_statuses: tuple[str, ...], parcel_statuses: tuple[str, ...],
               at_customs: bool = False) -> list[Shipment]:  # fmt: skip
    out = [
        Shipment(b["sscc"], "bag", str(b["status"]), b["status_at"], b["lane_id"], None,
                 b["departure_date"])
        for b in uow.parcels.bags_with_status(bag_statuses)
    ]  # fmt: skip
    frame = uow.parcels.with_status(parcel_statuses)
    bags = frame.get_column("consolidation_id").drop_nulls().unique().to_list()
    closed = set(bags) - uow.parcels.opened(bags) if bags else set()
    for p in frame.iter_rows(named=True):
        if p["consolidation_id"] in closed:
            continue  # travels with its bag until the bag is opened
        if p["status"] == P.PACKED.value and p["lane_id"] is not None:
            continue  # waits to be bagged for its lane
        if p["status"] == P.PACKED.value and bool(p["declared"]) != at_customs:
            continue  # in the buyer's country: a declared parcel clears customs before delivery
        out.append(Shipment(p["tracking_no"], "parcel", str(p["status"]), p["status_at"],
                            p["lane_id"], p["last_mile_id"], None, int(p["order_id"]),
                            p["destination_country"]))  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class TrackShipments:
    carrier: CarrierPort


def track_shipments(uow: UnitOfWork, command: TrackShipments) -> StepReport:
    """Ask the carrier for the scans of everything in transit up to the clock's now."""
    with uow:
        shipments = _shipments(uow, BAG_IN_TRANSIT, PARCEL_IN_TRANSIT)
        events = command.carrier.track(shipments, uow.clock.now())
        facts = tuple(StepFact(e.subject, e.step, e.at, place=e.place) for e in events)
        report = record_steps(uow, RecordSteps(facts))
        uow.commit()
    return report


@dataclass(frozen=True, slots=True)
class ClearCustoms:
    customs: CustomsPort


@dataclass(frozen=True, slots=True)
class ClearanceReport:
    steps: StepReport
    receipts: int  # declaration receipts applied


def clear_customs(uow: UnitOfWork, command: ClearCustoms) -> ClearanceReport:
    """Ask customs about every parcel waiting at import; record its decisions and receipts."""
    with uow:
        shipments = [s for s in _shipments(uow, (), AT_CUSTOMS, at_customs=True)
                     if s.kind == "parcel"]  # fmt: skip
        outcomes = command.customs.decide(shipments, uow.clock.now())
        by_subject = {s.subject: s for s in shipments}
        declared = declared_orders(
            uow, sorted({by_subject[o.subject].order_id or 0 for o in outcomes})
        )
        receipts = tuple(
            (declared[order_id][0], code)
            for o in outcomes
            if (order_id := by_subject[o.subject].order_id) in declared
            for code in o.receipts
        )
        if receipts:
            record_receipts(uow, RecordReceipts(receipts, note="customs decision"))
        steps = record_steps(uow, RecordSteps(tuple(StepFact(o.subject, o.step, o.at)
                                                    for o in outcomes)))  # fmt: skip
        uow.commit()
    return ClearanceReport(steps, len(receipts))


@dataclass(frozen=True, slots=True)
class CollectPayments:
    provider: PaymentPort


def collect_payments(uow: UnitOfWork, command: CollectPayments) -> PaymentsReport:
    """Ask the provider which captured orders were paid, and record the payments."""
    with uow:
        waiting = [
            AwaitingPayment(int(r["id"]), str(r["channel"]), str(r["external_id"]),
                            int(r["due"]) - int(r["paid"]), str(r["currency"]), r["placed_at"],
                            str(r["buyer_name"]), r["buyer_id_number"])
            for r in uow.orders.awaiting_payment()
        ]  # fmt: skip
        paid = command.provider.collect(waiting, uow.clock.now())
        report = record_payments(uow, RecordPayments(tuple(paid)))
        uow.commit()
    return report
