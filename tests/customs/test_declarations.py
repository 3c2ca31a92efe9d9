"""Declarations in the store (SQLite and PostgreSQL): quotas, receipts, returns, matches."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.customs.support import clock_at
from tests.customs.test_match import ON, doc_set
from tests.factories import RESIDENT_ID, make_import_order, make_order
from xborder.customs.declaration_status import Status, advance
from xborder.customs.match import documents
from xborder.domain.clock import SettableClock
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.orders import Order, OrderLine
from xborder.services.capture import capture_order
from xborder.services.customs import (
    BuyerAnnualTotal,
    DeclareOrders,
    MatchDocuments,
    QuoteOrder,
    RecordReceipt,
    ReturnGoods,
    annual_total,
    declare_orders,
    match,
    quote,
    record_receipt,
    return_goods,
)
from xborder.store.uow import UnitOfWork

DAY = date(2026, 3, 2)


def store_orders(engine: Engine, *orders: Order) -> list[int]:
    ids = []
    with UnitOfWork(engine) as uow:
        for order in orders:
            ids.append(capture_order(uow, order).order_id)
        uow.commit()
    return ids


def cn_order(no: str, price: str, qty: int = 1, **overrides: Any) -> Order:
    line = OrderLine(
        sku="SERUM-1", description="Serum", hs_code="330499", qty=qty, unit_price=Decimal(price)
    )
    return make_import_order(no, lines=[line], **overrides)


def total(engine: Engine, clock: SettableClock, year: int = DAY.year) -> int:
    uow = UnitOfWork(engine, clock=clock)
    return annual_total(uow, BuyerAnnualTotal(RESIDENT_ID, year)).total_minor


def test_declaring_counts_cbec_orders_into_the_annual_total_in_turn(engine: Engine) -> None:
    clock = clock_at(DAY)
    uow = UnitOfWork(engine, clock=clock)
    # 5 orders of RMB 5,000 by one buyer: 26,000 admits five (25,000), the sixth goes general
    ids = store_orders(engine, *[cn_order(f"CN-{i}", "5000.00") for i in range(6)], make_order())
    report = declare_orders(uow, DeclareOrders(ids))  # on the clock's today
    assert report.declared == 7 and report.errors == ()
    channels = dict(
        zip(report.quotes.get_column("order_no"), report.quotes.get_column("channel"), strict=True)
    )
    assert [channels[f"CN-{i}"] for i in range(6)] == ["cbec"] * 5 + ["general"]
    assert channels["ORD-1"] == "ioss"
    assert set(report.quotes.get_column("date")) == {DAY}
    assert total(engine, clock) == 2_500_000
    assert annual_total(uow, BuyerAnnualTotal(RESIDENT_ID)).total.amount == Decimal("25000.00")
    again = declare_orders(uow, DeclareOrders(ids, on=DAY))
    assert (again.declared, again.already) == (0, 7)
    assert total(engine, clock) == 2_500_000


def test_a_declaration_date_after_the_clocks_today_is_refused(engine: Engine) -> None:
    uow = UnitOfWork(engine, clock=clock_at(DAY))
    ids = store_orders(engine, cn_order("CN-F", "100.00"))
    with pytest.raises(InvalidValue, match="on: is after today"):
        declare_orders(uow, DeclareOrders(ids, on=DAY + timedelta(days=1)))
    assert declare_orders(uow, DeclareOrders(ids)).declared == 1


def test_receipts_drive_the_status_machine_and_rejection_restores_the_quota(engine: Engine) -> None:
    clock = clock_at(DAY)
    uow = UnitOfWork(engine, clock=clock)
    ids = store_orders(engine, cn_order("CN-A", "1000.00"), cn_order("CN-B", "2000.00"))
    declare_orders(uow, DeclareOrders(ids))
    assert total(engine, clock) == 300_000
    clock.advance(timedelta(days=1))
    for code in ("120", "399", "800"):
        record_receipt(uow, RecordReceipt("CN-A", code))
    again = record_receipt(uow, RecordReceipt("CN-A", "800"))  # a repeat: idempotent
    assert (again.status, again.previous) == ("released", "released")
    assert record_receipt(uow, RecordReceipt("CN-B", "100")).status == "rejected"
    assert total(engine, clock) == 100_000
    with pytest.raises(Conflict, match="not allowed after rejected"):
        record_receipt(uow, RecordReceipt("CN-B", "800"))
    with pytest.raises(InvalidValue, match="receipt code"):
        record_receipt(uow, RecordReceipt("CN-A", "42"))
    with pytest.raises(NotFound):
        record_receipt(uow, RecordReceipt("NOPE", "120"))
    with uow:
        decl = uow.customs.get("CN-A")
        assert decl is not None and decl["released_on"] == date(2026, 3, 3)
        assert [e["status"] for e in uow.customs.events(decl["id"])] == [
            "declared",
            "accepted",
            "concluded",
            "released",
        ]


def test_return_within_30_days_refunds_tax_and_restores_the_total(engine: Engine) -> None:
    clock = clock_at(DAY)
    uow = UnitOfWork(engine, clock=clock)
    ids = store_orders(engine, cn_order("CN-R", "1000.00"), cn_order("CN-S", "1000.00"))
    declare_orders(uow, DeclareOrders(ids))
    clock.advance(timedelta(days=1))
    for no in ("CN-R", "CN-S"):
        for code in ("120", "399", "800"):
            record_receipt(uow, RecordReceipt(no, code))
    with pytest.raises(InvalidValue, match="after today"):  # the clock is still on 3 March
        return_goods(uow, ReturnGoods("CN-R", date(2026, 4, 2)))
    clock.set(clock_at(date(2026, 4, 3)).now())
    with pytest.raises(Conflict, match="30-day window"):
        return_goods(uow, ReturnGoods("CN-S"))  # today, 3 April: 31 days after release
    result = return_goods(uow, ReturnGoods("CN-R", date(2026, 4, 2)))
    assert result.refund_minor == 9100  # 1000 * 13 % * 70 %
    assert str(result.refund) == "91.00 CNY"
    assert total(engine, clock) == 100_000
    with pytest.raises(Conflict):
        return_goods(uow, ReturnGoods("CN-R", date(2026, 4, 2)))  # already refunded


def test_match_uses_and_saves_the_stored_annual_total(engine: Engine) -> None:
    one = doc_set("M-1")
    docs = documents([one["order"]], [one["payment"]], [one["waybill"]], [one["list"]])
    clock = clock_at(date(2025, 3, 2))
    uow = UnitOfWork(engine, clock=clock)
    ids = store_orders(engine, *[cn_order(f"CN-{i}", "5000.00") for i in range(5)])
    declare_orders(uow, DeclareOrders(ids))  # 25,000 stored: 520 more still fits
    clock.set(clock_at(date(2026, 1, 2)).now())
    stored = MatchDocuments(docs, ON, use_store=True)
    assert match(uow, stored)[0]["status"] == "matched"
    declare_orders(
        uow, DeclareOrders(store_orders(engine, cn_order("CN-X", "1000.00")), date(2025, 3, 2))
    )  # 26,000
    [result] = match(uow, MatchDocuments(docs, ON, save=True))
    assert result["status"] == "mismatch"
    assert [p["rule"] for p in result["problems"]] == ["limits"]
    assert match(uow, MatchDocuments(docs, use_store=True))[0]["status"] == "matched"  # 2026
    assert match(uow, MatchDocuments(docs, ON))[0]["status"] == "matched"  # without the store
    with uow:
        saved = uow.customs.match_result("M-1")
    assert saved is not None and saved["status"] == "mismatch" and "limits" in saved["problems"]
    assert saved["checked_on"] == ON
    with pytest.raises(InvalidValue, match="after today"):  # a saved result is never future
        match(uow, MatchDocuments(docs, date(2026, 1, 3), save=True))


def test_status_machine_alone() -> None:
    state = Status.NEW
    for code in ("2", "120", "300", "500", "800", "899"):
        state = advance(state, code)
    assert state == Status.CLOSED
    with pytest.raises(Conflict):
        advance(Status.DECLARED, "800")


def test_quote_takes_the_buyers_stored_annual_total(engine: Engine) -> None:
    uow = UnitOfWork(engine, clock=clock_at(DAY))
    ids = store_orders(engine, *[cn_order(f"CN-{i}", "5000.00") for i in range(5)])
    declare_orders(uow, DeclareOrders(ids))
    request = {
        "origin": "AU",
        "destination": "CN",
        "currency": "CNY",
        "buyer_id": RESIDENT_ID,
        "lines": [{"hs_code": "330499", "qty": 2, "unit_price": "600.00"}],
    }
    assert quote(uow, QuoteOrder(request))["channel"] == "cbec"  # no store: nothing counted
    stored = quote(uow, QuoteOrder(request, use_store=True))
    assert stored["date"] == DAY.isoformat()  # the clock's today
    assert stored["channel"] == "general" and "annual limit" in stored["reason"]
    before = {**request, "buyer_annual_total_before": "0"}
    assert quote(uow, QuoteOrder(before, use_store=True))["channel"] == "cbec"
    next_year = quote(uow, QuoteOrder(request, on=date(2027, 1, 4), use_store=True))
    assert next_year["channel"] == "cbec"  # a new year starts from zero
