"""Declarations in the store (SQLite and PostgreSQL): quotas, receipts, returns, matches."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from tests.customs.test_match import ON, doc_set
from tests.factories import RESIDENT_ID, make_import_order, make_order
from xborder.customs.declaration_status import Status, advance
from xborder.customs.match import documents
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.orders import OrderLine
from xborder.services.capture import capture_order
from xborder.services.customs import (
    annual_total,
    declare_orders,
    match,
    quote,
    record_receipt,
    return_goods,
)
from xborder.store.customs_repo import CustomsRepository
from xborder.store.uow import UnitOfWork

DAY = date(2026, 3, 2)


def _store(engine: Engine, *orders: object) -> list[int]:
    ids = []
    with UnitOfWork(engine) as uow:
        for order in orders:
            ids.append(capture_order(uow, order).order_id)  # type: ignore[arg-type]
        uow.commit()
    return ids


def _cn(no: str, price: str, qty: int = 1) -> object:
    return make_import_order(
        no,
        lines=[
            OrderLine(
                sku="SERUM-1",
                description="Serum",
                hs_code="330499",
                qty=qty,
                unit_price=Decimal(price),
            )
        ],
    )


def test_declaring_counts_cbec_orders_into_the_annual_total_in_turn(engine: Engine) -> None:
    # 5 orders of RMB 5,000 by one buyer: 26,000 admits five (25,000), the sixth goes general
    ids = _store(engine, *[_cn(f"CN-{i}", "5000.00") for i in range(6)], make_order("DE-1"))
    report = declare_orders(engine, ids, on=DAY)
    assert report.declared == 7 and report.errors == []
    channels = dict(
        zip(report.quotes.get_column("order_no"), report.quotes.get_column("channel"), strict=True)
    )
    assert [channels[f"CN-{i}"] for i in range(6)] == ["cbec"] * 5 + ["general"]
    assert channels["DE-1"] == "ioss"
    assert annual_total(engine, RESIDENT_ID, DAY.year) == 2_500_000
    again = declare_orders(engine, ids, on=DAY)
    assert (again.declared, again.already) == (0, 7)
    assert annual_total(engine, RESIDENT_ID, DAY.year) == 2_500_000


def test_receipts_drive_the_status_machine_and_rejection_restores_the_quota(engine: Engine) -> None:
    ids = _store(engine, _cn("CN-A", "1000.00"), _cn("CN-B", "2000.00"))
    declare_orders(engine, ids, on=DAY)
    assert annual_total(engine, RESIDENT_ID, DAY.year) == 300_000
    for code in ("120", "399", "800"):
        record_receipt(engine, "CN-A", code, datetime(2026, 3, 3, tzinfo=UTC))
    assert record_receipt(engine, "CN-A", "800")["status"] == "released"  # repeat: idempotent
    record_receipt(engine, "CN-B", "100")
    assert annual_total(engine, RESIDENT_ID, DAY.year) == 100_000
    with pytest.raises(Conflict, match="not allowed after rejected"):
        record_receipt(engine, "CN-B", "800")
    with pytest.raises(InvalidValue, match="receipt code"):
        record_receipt(engine, "CN-A", "42")
    with pytest.raises(NotFound):
        record_receipt(engine, "NOPE", "120")
    with UnitOfWork(engine) as uow:
        repo = CustomsRepository(uow.connection)
        decl = repo.get("CN-A")
        assert decl is not None and decl["released_on"] == date(2026, 3, 3)
        assert [e["status"] for e in repo.events(decl["id"])] == [
            "declared",
            "accepted",
            "concluded",
            "released",
        ]


def test_return_within_30_days_refunds_tax_and_restores_the_total(engine: Engine) -> None:
    ids = _store(engine, _cn("CN-R", "1000.00"), _cn("CN-S", "1000.00"))
    declare_orders(engine, ids, on=DAY)
    for no in ("CN-R", "CN-S"):
        for code in ("120", "399", "800"):
            record_receipt(engine, no, code, datetime(2026, 3, 3, tzinfo=UTC))
    with pytest.raises(Conflict, match="30-day window"):
        return_goods(engine, "CN-S", date(2026, 4, 3))
    result = return_goods(engine, "CN-R", date(2026, 4, 2))
    assert result["refund_minor"] == 9100  # 1000 * 13 % * 70 %
    assert annual_total(engine, RESIDENT_ID, DAY.year) == 100_000
    with pytest.raises(Conflict):
        return_goods(engine, "CN-R", date(2026, 4, 2))  # already refunded


def test_match_uses_and_saves_the_stored_annual_total(engine: Engine) -> None:
    one = doc_set("M-1")
    docs = documents([one["order"]], [one["payment"]], [one["waybill"]], [one["list"]])
    ids = _store(engine, *[_cn(f"CN-{i}", "5000.00") for i in range(5)])
    declare_orders(engine, ids, on=date(2025, 3, 2))  # 25,000 stored: 520 more still fits
    assert match(docs, ON, engine)[0]["status"] == "matched"
    declare_orders(engine, _store(engine, _cn("CN-X", "1000.00")), on=date(2025, 3, 2))  # 26,000
    [result] = match(docs, ON, engine, save=True)
    assert result["status"] == "mismatch"
    assert [p["rule"] for p in result["problems"]] == ["limits"]
    assert match(docs, date(2026, 1, 2), engine)[0]["status"] == "matched"  # a new year
    with UnitOfWork(engine) as uow:
        saved = CustomsRepository(uow.connection).match_result("M-1")
    assert saved is not None and saved["status"] == "mismatch" and "limits" in saved["problems"]


def test_status_machine_alone() -> None:
    state = Status.NEW
    for code in ("2", "120", "300", "500", "800", "899"):
        state = advance(state, code)
    assert state == Status.CLOSED
    with pytest.raises(Conflict):
        advance(Status.DECLARED, "800")


def test_quote_takes_the_buyers_stored_annual_total(engine: Engine) -> None:
    declare_orders(engine, _store(engine, *[_cn(f"CN-{i}", "5000.00") for i in range(5)]), on=DAY)
    request = {
        "date": DAY.isoformat(),
        "origin": "AU",
        "destination": "CN",
        "currency": "CNY",
        "buyer_id": RESIDENT_ID,
        "lines": [{"hs_code": "330499", "qty": 2, "unit_price": "600.00"}],
    }
    assert quote(request)["channel"] == "cbec"  # no store: nothing counted yet
    stored = quote(request, engine=engine)
    assert stored["channel"] == "general" and "annual limit" in stored["reason"]
    assert quote({**request, "buyer_annual_total_before": "0"}, engine=engine)["channel"] == "cbec"
