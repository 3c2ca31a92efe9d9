"""Read use cases behind the web pages that the API's tenancy reads do not already give: the
operator's dashboard (KPIs with their weekly trend, open orders, parcels in flight and in
trouble, declarations whose three-document match found problems, settlement balances) and the
paged balance table.

Every use case takes the ``Principal`` and decides what it may see here, in the service layer:
these views span every party, so they are the operator's alone (``Forbidden`` for anyone else);
parties get their own pages through the tenant-filtered reads of ``services.tenancy``. Money
leaves as ``Money`` (the page formats it), names instead of ids where the store has them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from xborder.domain.errors import Forbidden, InvalidValue
from xborder.domain.lifecycle import ParcelStatus
from xborder.domain.money import Money
from xborder.domain.orders import OrderStatus
from xborder.services.access import Principal
from xborder.services.kpis import KPI_DIRECTION, MeasureKpis, measure_kpis
from xborder.services.settlement_statements import Balances, balances
from xborder.store.uow import UnitOfWork

OPEN_ORDER_STATUSES = (OrderStatus.CAPTURED, OrderStatus.PAID, OrderStatus.PLANNED,
                       OrderStatus.SHIPPED)  # fmt: skip
P = ParcelStatus
IN_FLIGHT = (P.PACKED, P.CONSOLIDATED, P.EXPORT_CLEARED, P.DEPARTED, P.ARRIVED, P.IMPORT_CLEARED,
             P.OUT_FOR_DELIVERY)  # fmt: skip
TROUBLE = (P.EXPORT_HELD, P.IMPORT_HELD, P.DELIVERY_ATTEMPTED, P.DAMAGED, P.LOST, P.RETURNED)
# The dashboard's KPI cards, in order; money KPIs are in the report currency.
DASHBOARD_KPIS = ("orders", "delivered", "gmv", "on_time_rate", "delivery_days_mean",
                  "landed_cost_per_order", "clearance_hours_mean", "hold_rate", "loss_rate",
                  "trace_completeness", "quote_variance_rate")  # fmt: skip
MATCH_SCAN = 500  # the newest declarations whose saved match the dashboard looks at


def operator_only(principal: Principal, scope: str) -> None:
    """These views span every party: the operator's, with the scope the data needs."""
    if not principal.is_operator:
        raise Forbidden("this view is the platform operator's")
    principal.require(scope)


@dataclass(frozen=True, slots=True)
class KpiFigure:
    """One KPI: its value over the whole period and per week (None: nothing to measure)."""

    key: str
    value: Money | float | int | None
    trend: list[float | None]
    better: str  # "+" higher is better, "-" lower is better


@dataclass(frozen=True, slots=True)
class ShowDashboard:
    principal: Principal
    period_days: int = 7
    rows: int = 10  # rows of each table
    currency: str = "CNY"


@dataclass(frozen=True, slots=True)
class Dashboard:
    currency: str
    periods: list[date]
    kpis: list[KpiFigure]
    orders_by_status: dict[str, int]
    parcels_by_status: dict[str, int]
    open_orders: list[dict[str, Any]]
    in_flight: list[dict[str, Any]]
    trouble: list[dict[str, Any]]
    declarations: list[dict[str, Any]]  # with match problems
    balances: list[dict[str, Any]]
    balance_count: int = 0
    partners: list[dict[str, Any]] = field(default_factory=list)


def _kpi_value(key: str, value: Any, currency: str) -> Money | float | int | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return Money(value, currency)
    return value if isinstance(value, int) else float(value)


def _figures(uow: UnitOfWork, command: ShowDashboard) -> tuple[list[date], list[KpiFigure]]:
    report = measure_kpis(uow, MeasureKpis(command.period_days, currency=command.currency))
    periods = [p["period"] for p in report.periods]
    figures = []
    for key in DASHBOARD_KPIS:
        trend = [None if p.get(key) is None else float(p[key]) for p in report.periods]
        value = _kpi_value(key, report.overall.get(key), report.currency)
        figures.append(KpiFigure(key, value, trend, KPI_DIRECTION[key]))
    return periods, figures


def order_row(order: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """An order as a table shows it: names for parties, the total as ``Money``."""
    currency = str(order["currency"])
    minor = sum(int(order.get(k) or 0) for k in ("goods_minor", "freight_minor", "insurance_minor"))
    minor -= int(order.get("discount_minor") or 0)
    return {
        "id": order["id"],
        "external_id": order.get("external_id"),
        "channel": order.get("channel"),
        "seller": names.get(str(order.get("seller_id")), order.get("seller_id")),
        "platform": names.get(str(order.get("platform_id")), order.get("platform_id")),
        "destination": order.get("consignee_country"),
        "status": order.get("status"),
        "total": Money.from_minor(minor, currency),
        "placed_at": order.get("placed_at"),
        "promised_by": order.get("promised_by"),
    }


def parcel_row(parcel: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "tracking_no": parcel.get("tracking_no"),
        "order_id": parcel.get("order_id"),
        "status": parcel.get("status"),
        "status_at": parcel.get("status_at"),
        "destination": parcel.get("destination_country"),
        "warehouse": names.get(str(parcel.get("warehouse_id")), parcel.get("warehouse_id")),
        "lane": names.get(str(lane), lane) if (lane := parcel.get("lane_id")) else "in-country",
        "last_mile": names.get(str(parcel.get("last_mile_id")), parcel.get("last_mile_id")),
        "promised_by": parcel.get("promised_by"),
    }


def order_rows(uow: UnitOfWork, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders of a tenancy page (money as ``Money``) as tables show them, parties by name."""
    plain = []
    for order in orders:
        row = dict(order)
        for part in ("goods", "freight"):
            value = row.pop(part, None)
            if isinstance(value, Money):
                row[f"{part}_minor"] = value.minor
        plain.append(row)
    parties = {str(o[k]) for o in plain for k in ("seller_id", "platform_id") if o.get(k)}
    names = party_names(uow, sorted(parties))
    return [order_row(o, names) for o in plain]


def party_names(uow: UnitOfWork, party_ids: list[str]) -> dict[str, str]:
    """Party id -> name for the ids the stored world knows."""
    with uow:
        return uow.world.party_names(party_ids) if party_ids else {}


def network_names(uow: UnitOfWork) -> dict[str, str]:
    """Warehouse, lane and last-mile service ids -> names (the world is small)."""
    with uow:
        rows = [*uow.world.warehouses(), *uow.world.lanes(), *uow.world.last_mile()]
    return {str(r["id"]): str(r["name"]) for r in rows}


def _open_orders(uow: UnitOfWork, rows: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for status in OPEN_ORDER_STATUSES:
        found += uow.orders.recent(status=status.value, limit=rows)
    found.sort(key=lambda o: int(o["id"]), reverse=True)
    found = found[:rows]
    parties = {str(o[k]) for o in found for k in ("seller_id", "platform_id") if o.get(k)}
    names = uow.world.party_names(sorted(parties))
    return [order_row(o, names) for o in found]


def match_problems(uow: UnitOfWork, rows: int) -> list[dict[str, Any]]:
    """Declarations (newest first, among the newest ``MATCH_SCAN``) whose saved three-document
    match is not clean, with the problems it found."""
    declared = uow.kpis.declarations()
    ids = sorted({int(i) for i in declared.get_column("order_id").to_list()}, reverse=True)
    found: list[dict[str, Any]] = []
    for order_id, (order_no, status) in sorted(
        uow.customs.for_orders(ids[:MATCH_SCAN]).items(), reverse=True
    ):
        saved = uow.customs.match_result(order_no)
        if saved is None or saved["status"] == "matched":
            continue
        problems = json.loads(saved["problems"] or "[]")
        found.append({
            "order_id": order_id, "order_no": order_no, "declaration_status": status,
            "match_status": saved["status"], "checked_on": saved["checked_on"],
            "problems": problems,
        })  # fmt: skip
        if len(found) >= rows:
            break
    return found


def dashboard(uow: UnitOfWork, command: ShowDashboard) -> Dashboard:
    """Everything the operator's dashboard shows, read in one transaction."""
    operator_only(command.principal, "kpis:read")
    if command.rows < 1 or command.rows > 200:
        raise InvalidValue("rows", "must be between 1 and 200", command.rows)
    with uow:
        periods, figures = _figures(uow, command)
        names = network_names(uow)
        statuses = [s.value for s in IN_FLIGHT]
        in_flight = uow.parcels.with_status(statuses, command.rows).to_dicts()
        trouble = uow.parcels.with_status([s.value for s in TROUBLE], command.rows).to_dicts()
        ledger = _balance_rows(uow)
        return Dashboard(
            currency=command.currency, periods=periods, kpis=figures,
            orders_by_status=uow.orders.status_counts(),
            parcels_by_status=uow.parcels.status_counts(),
            open_orders=_open_orders(uow, command.rows),
            in_flight=[parcel_row(p, names) for p in in_flight],
            trouble=[parcel_row(p, names) for p in trouble],
            declarations=match_problems(uow, command.rows),
            balances=ledger[: command.rows], balance_count=len(ledger),
        )  # fmt: skip


def _balance_rows(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every account with a balance, by party name then purpose and currency."""
    frame = balances(uow, Balances())
    rows = [r for r in frame.iter_rows(named=True) if int(r["balance"]) != 0]
    names = uow.world.party_names(sorted({str(r["party"]) for r in rows}))
    out = [
        {
            "party": names.get(str(r["party"]), str(r["party"])),
            "purpose": r["purpose"],
            "balance": Money.from_minor(int(r["balance"]), str(r["currency"])),
            "pending": Money.from_minor(
                int(r["credits_pending"]) - int(r["debits_pending"]), str(r["currency"])
            ),
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: (r["party"], r["purpose"], r["balance"].currency))


@dataclass(frozen=True, slots=True)
class ListBalances:
    principal: Principal
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class BalancePage:
    rows: list[dict[str, Any]]
    offset: int
    limit: int
    total: int


def balance_page(uow: UnitOfWork, command: ListBalances) -> BalancePage:
    """One page of every party's balances (the operator's view of the settlement ledger)."""
    operator_only(command.principal, "ledger:read")
    if command.offset < 0:
        raise InvalidValue("offset", "must not be negative", command.offset)
    if not 1 <= command.limit <= 500:
        raise InvalidValue("limit", "must be between 1 and 500", command.limit)
    with uow:
        rows = _balance_rows(uow)
    page = rows[command.offset : command.offset + command.limit]
    return BalancePage(page, command.offset, command.limit, len(rows))


@dataclass(frozen=True, slots=True)
class ListMatchProblems:
    principal: Principal
    rows: int = 50


def declarations_with_problems(uow: UnitOfWork, command: ListMatchProblems) -> list[dict[str, Any]]:
    """The declarations whose three-document match found problems (the operator's view)."""
    operator_only(command.principal, "customs:read")
    with uow:
        return match_problems(uow, command.rows)
