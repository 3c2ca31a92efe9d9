"""Read-side use cases: list and show orders (from an order to its parcels, declaration, money and
timeline), describe the stored world, count what the store holds.

``show_order`` is how a person gets from an order to everything that happened to it: its state,
its parcels (tracking number, SSCC, warehouse, lane, last-mile service, promised date), its
customs declaration and three-document match, what its escrow holds, and one timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xborder.domain.errors import InvalidValue, NotFound
from xborder.domain.money import Money
from xborder.domain.orders import OrderStatus
from xborder.services.customs import declaration_for_order
from xborder.services.settlement import EscrowState, escrow_state
from xborder.services.trace import ShowParcel, show
from xborder.store.uow import UnitOfWork

ORDER_STATUSES = tuple(s.value for s in OrderStatus)


@dataclass(frozen=True, slots=True)
class ListOrders:
    status: str | None = None
    channel: str | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in ORDER_STATUSES:
            raise InvalidValue("status", f"not an order status; one of {', '.join(ORDER_STATUSES)}",
                               self.status)  # fmt: skip


def list_orders(uow: UnitOfWork, command: ListOrders) -> list[dict[str, Any]]:
    with uow:
        return uow.orders.recent(status=command.status, channel=command.channel,
                                 limit=command.limit, offset=command.offset)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order and everything that happened to it; money as ``Money``."""

    order: dict[str, Any]
    lines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    parcels: list[dict[str, Any]]
    declaration: dict[str, Any] | None
    escrow: dict[str, Money]
    timeline: list[dict[str, Any]] = field(default_factory=list)


def show_order(uow: UnitOfWork, order_id: int) -> OrderView:
    with uow:
        orders, lines = uow.orders.load([order_id])
        if orders.height == 0:
            raise NotFound(f"order {order_id} does not exist")
        order = orders.row(0, named=True)
        currency = str(order["currency"])
        header = {k: v for k, v in order.items() if not k.endswith("_minor")}
        header.update({k.removesuffix("_minor"): Money.from_minor(int(v), currency)
                       for k, v in order.items() if k.endswith("_minor")})  # fmt: skip
        line_rows = [
            {**{k: v for k, v in line.items() if k not in {"order_id", "unit_price_minor"}},
             "unit_price": Money.from_minor(int(line["unit_price_minor"]), currency)}
            for line in lines.to_dicts()
        ]  # fmt: skip
        payments = [
            {**{k: v for k, v in p.items() if k != "amount_minor"},
             "amount": Money.from_minor(int(p["amount_minor"]), str(p["currency"]))}
            for p in uow.orders.payments_for(order_id)
        ]  # fmt: skip
        parcels = uow.parcels.detail_of_order(order_id)
        declaration = declaration_for_order(uow, order_id)
        escrow = _escrow(uow, order_id, currency)
        timeline = _timeline(uow, order, payments, parcels)
    return OrderView(header, line_rows, payments, parcels, declaration, escrow, timeline)


def _escrow(uow: UnitOfWork, order_id: int, currency: str) -> dict[str, Money]:
    state = escrow_state(uow, EscrowState([order_id]))
    if state.height == 0:
        return {}
    row = state.row(0, named=True)
    keys = ("captured", "held", "released", "refunded", "tax", "tax_remitted", "fee_posted")
    return {k: Money.from_minor(int(row[k]), currency) for k in keys if row.get(k)}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _timeline(
    uow: UnitOfWork, order: dict[str, Any], payments: list[dict[str, Any]],
    parcels: list[dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    """The order's own milestones and each parcel's trace timeline, in time order."""
    points = [{"time": _utc(order["placed_at"]), "status": "Order placed", "place": None,
               "party": order["platform_id"] or order["seller_id"]}]  # fmt: skip
    points += [
        {"time": _utc(p["paid_at"]), "status": f"Paid {p['amount']}", "place": None,
         "party": p["provider"]}
        for p in payments
    ]  # fmt: skip
    for parcel in parcels:
        timeline = show(uow, ShowParcel(parcel["tracking_no"]))
        points += [
            {"time": _utc(pt.time), "status": pt.status, "place": pt.place,
             "party": pt.party_name or pt.party, "parcel": parcel["tracking_no"]}
            for pt in timeline.points
            if pt.status != "Order placed"
        ]  # fmt: skip
    names = uow.world.party_names(sorted({str(p["party"]) for p in points if p["party"]}))
    for p in points:
        p["party"] = names.get(str(p["party"]), p["party"])
    return sorted(points, key=lambda p: p["time"])


def describe_world(uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        return {
            "worlds": uow.world.loaded(),
            "counts": uow.world.counts(),
            "warehouses": uow.world.warehouses(),
            "lanes": uow.world.lanes(),
            "last_mile": uow.world.last_mile(),
        }


def store_counts(uow: UnitOfWork) -> dict[str, dict[str, int]]:
    """Orders and parcels per status, as stored."""
    with uow:
        return {"orders": uow.orders.status_counts(), "parcels": uow.parcels.status_counts()}


def latest_record(uow: UnitOfWork) -> datetime | None:
    """The latest time stored for orders, payments, parcels, bags and plans (None if empty)."""
    with uow:
        return uow.orders.latest_record()
