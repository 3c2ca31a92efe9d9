"""The three-document match of stored, declared China import orders (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from tests.customs.support import clock_at
from tests.customs.test_declarations import cn_order, store_orders
from tests.factories import RESIDENT_ID, make_order
from xborder.domain.clock import SettableClock
from xborder.domain.orders import PaymentRecord
from xborder.services.customs import (
    ILLUSTRATIVE_LOGISTICS_CODE,
    DeclareOrders,
    MatchDeclared,
    cn_documents,
    declaration_for_order,
    declare_orders,
    declared_orders,
    landed_cost_summary,
    match_declared,
)
from xborder.services.payments import record_payment
from xborder.store.schema import hubs, lanes, parties, warehouses
from xborder.store.schema_planning import parcels
from xborder.store.uow import UnitOfWork

DAY = date(2026, 3, 2)
PLATFORM_CODE = "4101969906"
PAY_CODE = "3301969922"
PLATFORM = "platform-cbec-cn"
PARTIES: list[dict[str, Any]] = [
    {"id": "platform-cbec-cn", "name": "CBEC platform", "roles": "platform", "country": "CN",
     "customs_code": PLATFORM_CODE},
    {"id": "seller-au-health", "name": "AU seller", "roles": "seller", "country": "AU",
     "customs_code": None},
    {"id": "seller-sz-gadgets", "name": "SZ seller", "roles": "seller", "country": "CN",
     "customs_code": "4403969901"},
    {"id": "pp-lianhe-pay", "name": "Payment company", "roles": "payment_provider",
     "country": "CN", "customs_code": PAY_CODE},
]  # fmt: skip


def pay(engine: Engine, clock: SettableClock, no: str, amount: str, tx: str) -> None:
    record = PaymentRecord(
        channel="tmall-global",
        external_id=no,
        provider="pp-lianhe-pay",
        transaction_id=tx,
        payer_name="Zhang Wei",
        payer_id_number=RESIDENT_ID,
        amount=Decimal(amount),
        currency="CNY",
        paid_at=clock.now(),
    )
    with UnitOfWork(engine, clock=clock) as uow:
        record_payment(uow, record)
        uow.commit()


@pytest.fixture
def stored(engine: Engine) -> tuple[UnitOfWork, SettableClock, dict[str, int]]:
    """A paid, an unpaid and an underpaid China import order and an export order, declared."""
    with engine.begin() as conn:
        conn.execute(insert(parties), PARTIES)
    clock = clock_at(DAY)

    ids = store_orders(
        engine,
        cn_order("CN-PAID", "1000.00", platform_id=PLATFORM),
        cn_order("CN-UNPAID", "1000.00", platform_id=PLATFORM),
        cn_order("CN-SHORT", "1000.00", platform_id=PLATFORM),
        make_order("DE-1"),
    )
    uow = UnitOfWork(engine, clock=clock)
    assert declare_orders(uow, DeclareOrders(ids)).declared == 4
    # goods 1,000 + VAT 1,000 * 13 % * 70 % = 1,091.00 paid in full; the short one without tax
    pay(engine, clock, "CN-PAID", "1091.00", "TX-PAID")
    pay(engine, clock, "CN-SHORT", "1000.00", "TX-SHORT")
    return uow, clock, dict(zip(["paid", "unpaid", "short", "export"], ids, strict=True))


def test_payments_come_from_the_store_and_an_unpaid_order_lacks_one(
    stored: tuple[UnitOfWork, SettableClock, dict[str, int]],
) -> None:
    uow, _, ids = stored
    report = match_declared(uow, MatchDeclared(list(ids.values())))
    assert report.orders == 3  # the export order is not a China import
    assert dict(report.counts) == {"matched": 1, "incomplete": 1, "mismatch": 1}
    unpaid = declaration_for_order(uow, ids["unpaid"])
    assert unpaid is not None and unpaid["match_status"] == "incomplete"
    assert {
        "rule": "link",
        "field": "CEB411 payment",
        "expected": "present",
        "actual": "missing",
    } in unpaid["problems"]
    short = declaration_for_order(uow, ids["short"])
    assert short is not None and short["match_status"] == "mismatch"
    assert {(p["rule"], p["field"], p["actual"]) for p in short["problems"]} == {
        ("payment_amount", "amountPaid", "1000.00")
    }
    paid = declaration_for_order(uow, ids["paid"])
    assert paid is not None and paid["match_status"] == "matched"
    assert paid["problems"] == [] and paid["match_checked_on"] == DAY
    examples = {(e.order_no, e.rule, e.field) for e in report.examples}
    assert examples == {
        ("CN-UNPAID", "link", "CEB411 payment"),
        ("CN-SHORT", "payment_amount", "amountPaid"),
    }


def test_the_documents_carry_the_stored_payment_and_registration_codes(
    stored: tuple[UnitOfWork, SettableClock, dict[str, int]],
) -> None:
    uow, _, ids = stored
    with uow:
        repo = uow.customs
        declared = repo.declared_orders(list(ids.values()), regime="CN")
        order_ids = declared.get_column("order_id").to_list()
        docs = cn_documents(
            declared,
            repo.customs_codes(),
            repo.order_lines(order_ids),
            repo.order_payments(order_ids),
        )
    payments = {r["orderNo"]: r for r in docs.payments.iter_rows(named=True)}
    assert set(payments) == {"CN-PAID", "CN-SHORT"}
    assert payments["CN-PAID"] == {
        "orderNo": "CN-PAID",
        "payCode": PAY_CODE,
        "payTransactionId": "TX-PAID",
        "amountPaid": "1091.00",
        "currency": "142",
        "payerIdType": "1",
        "payerIdNumber": RESIDENT_ID,
        "payerName": "Zhang Wei",
    }
    orders = {r["orderNo"]: r for r in docs.orders.iter_rows(named=True)}
    assert orders["CN-PAID"]["payTransactionId"] == "TX-PAID"
    assert orders["CN-UNPAID"]["payTransactionId"] is None
    # the foreign seller has no registration: it files through the platform
    assert (orders["CN-PAID"]["ebpCode"], orders["CN-PAID"]["ebcCode"]) == (PLATFORM_CODE,) * 2
    assert orders["CN-PAID"]["taxTotal"] == "91.00"
    assert orders["CN-PAID"]["acturalPaid"] == "1091.00"
    # no parcel yet: the illustrative waybill
    assert set(docs.waybills.get_column("logisticsCode")) == {ILLUSTRATIVE_LOGISTICS_CODE}
    assert docs.list_lines.get_column("gcode").to_list() == ["3304990000"] * 3


def test_matching_again_replaces_the_saved_result_once_the_order_is_paid(
    engine: Engine, stored: tuple[UnitOfWork, SettableClock, dict[str, int]]
) -> None:
    uow, clock, ids = stored
    match_declared(uow, MatchDeclared([ids["unpaid"]]))
    clock.advance(timedelta(days=1))
    pay(engine, clock, "CN-UNPAID", "1091.00", "TX-LATE")
    report = match_declared(uow, MatchDeclared([ids["unpaid"]]))
    assert dict(report.counts) == {"matched": 1} and report.examples == ()
    found = declaration_for_order(uow, ids["unpaid"])
    assert found is not None
    assert (found["match_status"], found["match_checked_on"]) == ("matched", DAY + timedelta(1))


def test_orders_without_a_china_declaration_give_an_empty_report(
    stored: tuple[UnitOfWork, SettableClock, dict[str, int]],
) -> None:
    uow, _, ids = stored
    report = match_declared(uow, MatchDeclared([ids["export"], 999_999]))
    assert (report.orders, dict(report.counts), report.examples) == (0, {}, ())


def test_declaration_queries_for_other_areas(
    stored: tuple[UnitOfWork, SettableClock, dict[str, int]],
) -> None:
    uow, _, ids = stored
    found = declared_orders(uow, [ids["paid"], ids["export"], 999_999])
    assert found == {ids["paid"]: ("CN-PAID", "declared"), ids["export"]: ("DE-1", "declared")}
    decl = declaration_for_order(uow, ids["paid"])
    assert decl is not None
    assert (decl["regime"], decl["channel"], decl["status"]) == ("CN", "cbec", "declared")
    assert (decl["vat"], decl["total_tax"], decl["duty"]) == ("91.00 CNY", "91.00 CNY", "0.00 CNY")
    assert decl["declared_on"] == DAY and decl["released_on"] is None
    assert decl["match_status"] is None and decl["problems"] == []  # never matched yet
    assert declaration_for_order(uow, 999_999) is None
    rows = landed_cost_summary(uow, list(ids.values()))
    cn = next(r for r in rows if r["destination"] == "CN")
    assert (cn["channel"], cn["orders"]) == ("cbec", 3)
    assert cn["duties_and_taxes"] == "273.00 CNY" and cn["mean_landed_cost"] == "1091.00 CNY"
    assert {r["destination"] for r in rows} == {"CN", "DE"}


def test_a_packed_order_has_its_parcels_waybill(
    engine: Engine, stored: tuple[UnitOfWork, SettableClock, dict[str, int]]
) -> None:
    uow, _, ids = stored
    carrier = {"id": "lp-central-air", "name": "Air cargo", "roles": "logistics_provider",
               "country": "CN", "customs_code": "4101969915"}  # fmt: skip
    hub = {"id": "hub-syd", "name": "Sydney", "country": "AU"}
    warehouse = {"id": "wh-syd", "name": "Sydney", "kind": "domestic", "country": "AU",
                 "operator_id": "seller-au-health", "hub_id": "hub-syd", "capacity_units": 1,
                 "handling_minor": 0, "handling_currency": "AUD"}  # fmt: skip
    lane = {"id": "lane-syd-cgo", "name": "SYD-CGO", "mode": "air", "carrier_id": carrier["id"],
            "origin_hub": "hub-syd", "dest_country": "CN", "per_kg_minor": 1,
            "per_parcel_minor": 1, "minimum_minor": 1, "currency": "CNY",
            "volumetric_divisor": 6000, "transit_mean_days": 3.0, "transit_p95_days": 5.0,
            "daily_capacity_kg": 1000, "departure_days": "Mon", "cutoff": "18:00",
            "loss_rate": 0.0, "damage_rate": 0.0, "source": "test"}  # fmt: skip
    parcel = {"id": "P-1", "order_id": ids["paid"], "sscc": "000000000000000017",
              "tracking_no": "CGO123456789", "gross_kg": Decimal("1.2"),
              "volume_cm3": Decimal("1000"), "warehouse_id": "wh-syd", "lane_id": "lane-syd-cgo",
              "status": "packed"}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(parties), [carrier])
        conn.execute(insert(hubs), [hub])
        conn.execute(insert(warehouses), [warehouse])
        conn.execute(insert(lanes), [lane])
        conn.execute(insert(parcels), [parcel])
    with uow:
        declared = uow.customs.declared_orders([ids["paid"], ids["unpaid"]], regime="CN")
        docs = cn_documents(
            declared,
            uow.customs.customs_codes(),
            uow.customs.order_lines([ids["paid"]]),
            uow.customs.order_payments([ids["paid"]]),
        )
    waybills = {r["orderNo"]: r for r in docs.waybills.iter_rows(named=True)}
    assert (waybills["CN-PAID"]["logisticsCode"], waybills["CN-PAID"]["logisticsNo"]) == (
        "4101969915",
        "CGO123456789",
    )
    assert waybills["CN-UNPAID"]["logisticsCode"] == ILLUSTRATIVE_LOGISTICS_CODE
    assert waybills["CN-UNPAID"]["logisticsNo"] == f"YT{ids['unpaid']:012d}"
    lists = {r["orderNo"]: r for r in docs.lists.iter_rows(named=True)}
    assert lists["CN-PAID"]["logisticsNo"] == "CGO123456789"
    report = match_declared(uow, MatchDeclared([ids["paid"]]))
    assert dict(report.counts) == {"matched": 1}
