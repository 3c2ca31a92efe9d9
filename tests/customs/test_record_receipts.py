"""Receipts applied set-wise (as the parcel lifecycle does), and customs times from the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.customs.support import clock_at
from tests.customs.test_declarations import cn_order, store_orders
from tests.factories import RESIDENT_ID, make_order
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.services.customs import (
    BuyerAnnualTotal,
    DeclareOrders,
    MatchDeclared,
    RecordReceipt,
    RecordReceipts,
    ReturnGoods,
    annual_total,
    declare_orders,
    match_declared,
    record_receipt,
    record_receipts,
    return_goods,
)
from xborder.store.schema_customs import (
    customs_declaration_events,
    customs_declarations,
    customs_match_results,
)
from xborder.store.uow import UnitOfWork

DAY = date(2026, 3, 2)


def snapshot(uow: UnitOfWork) -> tuple[list[Any], list[Any], int]:
    """Declarations, events and the buyer's annual total: what a refused batch must not touch."""
    with uow:
        decls = uow.connection.execute(
            select(customs_declarations).order_by(customs_declarations.c.id)
        ).all()
        events = uow.connection.execute(select(customs_declaration_events)).all()
    total = annual_total(uow, BuyerAnnualTotal(RESIDENT_ID, DAY.year)).total_minor
    return sorted(map(tuple, decls)), sorted(map(tuple, events)), total


@pytest.fixture
def declared(engine: Engine) -> UnitOfWork:
    uow = UnitOfWork(engine, clock=clock_at(DAY))
    orders = [cn_order(f"CN-{c}", "1000.00") for c in "ABCD"]
    declare_orders(uow, DeclareOrders(store_orders(engine, *orders)))
    return uow


def _statuses(uow: UnitOfWork) -> dict[str, list[tuple[str | None, str]]]:
    with uow:
        rows = uow.connection.execute(
            select(
                customs_declarations.c.order_no,
                customs_declaration_events.c.code,
                customs_declaration_events.c.status,
            )
            .join(customs_declarations)
            .order_by(customs_declarations.c.order_no, customs_declaration_events.c.seq)
        ).all()
    found: dict[str, list[tuple[str | None, str]]] = {}
    for no, code, status in rows:
        found.setdefault(no, []).append((code, status))
    return found


def test_many_receipts_at_once_in_order_with_repeats(declared: UnitOfWork) -> None:
    uow = declared
    receipts = [
        ("CN-A", "120"),
        ("CN-B", "120"),
        ("CN-A", "399"),
        ("CN-A", "800"),
        ("CN-B", "100"),
        ("CN-A", "800"),  # a repeat: no second event
        ("CN-C", "2"),  # already declared: idempotent
    ]
    result = record_receipts(uow, RecordReceipts(receipts, note="bag 7 cleared"))
    assert result == {"CN-A": "released", "CN-B": "rejected", "CN-C": "declared"}
    events = _statuses(uow)
    assert events["CN-A"] == [
        ("2", "declared"),
        ("120", "accepted"),
        ("399", "concluded"),
        ("800", "released"),
    ]
    assert events["CN-B"] == [("2", "declared"), ("120", "accepted"), ("100", "rejected")]
    assert events["CN-C"] == events["CN-D"] == [("2", "declared")]
    # the rejected order's RMB 1,000 went back to the buyer: three of four still count
    assert annual_total(uow, BuyerAnnualTotal(RESIDENT_ID)).total_minor == 300_000
    with uow:
        released = uow.customs.get("CN-A")
        rejected = uow.customs.get("CN-B")
    assert released is not None and released["released_on"] == DAY
    assert rejected is not None and rejected["counted_minor"] == 0
    again = record_receipts(uow, RecordReceipts(receipts))  # the whole batch again
    assert again == result and _statuses(uow) == events
    assert annual_total(uow, BuyerAnnualTotal(RESIDENT_ID)).total_minor == 300_000
    assert record_receipts(uow, RecordReceipts(())) == {}
    # a move the machine allows is applied even when its code was seen before (inspection loop)
    loop = [("CN-D", "120"), ("CN-D", "399"), ("CN-D", "500"), ("CN-D", "399")]
    assert record_receipts(uow, RecordReceipts(loop)) == {"CN-D": "concluded"}
    assert [s for _, s in _statuses(uow)["CN-D"]][-2:] == ["inspection", "concluded"]


def test_an_illegal_transition_writes_nothing_even_inside_a_callers_transaction(
    declared: UnitOfWork,
) -> None:
    uow = declared
    record_receipts(uow, RecordReceipts([("CN-B", "120"), ("CN-B", "100")]))
    before = snapshot(uow)
    refused = [("CN-A", "120"), ("CN-C", "120"), ("CN-B", "800")]  # rejected cannot be released
    with pytest.raises(Conflict, match=r"receipt 800 \(released\) is not allowed after rejected"):
        record_receipts(uow, RecordReceipts(refused))
    assert snapshot(uow) == before
    # nested: the caller keeps its transaction open and commits its own work afterwards
    with uow:
        with pytest.raises(Conflict):
            record_receipts(uow, RecordReceipts(refused))
        uow.commit()
    assert snapshot(uow) == before
    with pytest.raises(NotFound, match="NOPE"):
        record_receipts(uow, RecordReceipts([("CN-A", "120"), ("NOPE", "120")]))
    with pytest.raises(InvalidValue, match="receipt code"):
        record_receipts(uow, RecordReceipts([("CN-A", "120"), ("CN-C", "42")]))
    assert snapshot(uow) == before


def test_receipts_join_the_callers_transaction(declared: UnitOfWork) -> None:
    uow = declared
    with uow:
        record_receipts(uow, RecordReceipts([("CN-A", "120")]))
        record_receipt(uow, RecordReceipt("CN-D", "120"))
        uow.rollback()  # the caller gives up: nothing of the nested use cases stays
    assert set(_statuses(uow)["CN-A"]) == {("2", "declared")}
    assert set(_statuses(uow)["CN-D"]) == {("2", "declared")}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_nothing_customs_stores_is_dated_after_the_clocks_now(engine: Engine) -> None:
    # The clock runs months behind the host: a wall-clock time would show up as a future one.
    clock = clock_at(DAY, hour=9)
    uow = UnitOfWork(engine, clock=clock)
    ids = store_orders(engine, cn_order("CN-T", "1000.00"), make_order("DE-T"))
    declared_at = clock.now()
    declare_orders(uow, DeclareOrders(ids))
    clock.advance(timedelta(hours=20))
    released_at = clock.now()
    record_receipts(uow, RecordReceipts([("CN-T", c) for c in ("120", "399", "800")]))
    clock.advance(timedelta(days=3))
    match_declared(uow, MatchDeclared(ids))
    clock.advance(timedelta(days=2))
    returned_at = clock.now()
    return_goods(uow, ReturnGoods("CN-T"))
    now, today = clock.now(), clock.now().date()
    with uow:
        events = uow.connection.execute(
            select(
                customs_declarations.c.order_no,
                customs_declaration_events.c.status,
                customs_declaration_events.c.at,
            ).join(customs_declarations)
        ).all()
        decls = uow.connection.execute(
            select(customs_declarations.c.declared_on, customs_declarations.c.released_on)
        ).all()
        checked = uow.connection.execute(select(customs_match_results.c.checked_on)).all()
    at = {(no, status): _utc(moment) for no, status, moment in events}
    assert all(moment <= now for moment in at.values())
    assert at[("CN-T", "declared")] == at[("DE-T", "declared")] == declared_at
    assert at[("CN-T", "accepted")] == at[("CN-T", "released")] == released_at
    assert at[("CN-T", "refunded")] == returned_at
    assert all(d <= today and (r is None or r <= today) for d, r in decls)
    assert {d for d, _ in decls} == {DAY}
    assert [r for _, r in decls if r is not None] == [released_at.date()]
    assert checked and all(c <= today for (c,) in checked)
