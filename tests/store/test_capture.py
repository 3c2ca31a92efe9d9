"""Order capture on SQLite and on a real PostgreSQL server (the ``engine`` fixture)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from tests.factories import make_import_order, make_order
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.orders import OrderLine, OrderStatus, PaymentRecord
from xborder.services.capture import capture_batch, capture_order, order_frames
from xborder.services.payments import record_payment
from xborder.services.queries import show_order
from xborder.store.schema import order_lines, orders
from xborder.store.uow import UnitOfWork


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_capture_is_idempotent_by_channel_and_external_id(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        first = capture_order(uow, make_order())
        uow.commit()
    with UnitOfWork(engine) as uow:
        again = capture_order(uow, make_order())
        uow.commit()
    assert first.created and not again.created
    assert again.order_id == first.order_id
    assert count(engine, orders) == 1 and count(engine, order_lines) == 2


def test_a_repeat_with_different_content_is_a_conflict_and_changes_nothing(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        capture_order(uow, make_order())
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(Conflict):
        capture_order(uow, make_order(freight=Decimal("4.00")))
    stored = show_order(UnitOfWork(engine), 1).order
    assert stored["freight"].amount == Decimal("3.90")


def test_stored_order_reads_back_exactly(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        result = capture_order(uow, make_import_order())
        uow.commit()
    view = show_order(UnitOfWork(engine), result.order_id)
    stored = view.order
    assert str(stored["goods"]) == "476.00 CNY"
    assert stored["buyer_id_number"] == "11010519491231002X"
    assert stored["placed_at"] == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    assert [line["hs_code"] for line in view.lines] == ["190110"]
    assert stored["status"] == OrderStatus.CAPTURED
    assert view.parcels == [] and view.declaration is None  # nothing happened to it yet
    assert [t["status"] for t in view.timeline] == ["Order placed"]


def test_bulk_batch_mixes_new_existing_conflicting_and_invalid(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        capture_order(uow, make_order("A"))
        uow.commit()
    batch = order_frames([
        make_order("A"),                                   # existing, same content
        make_order("B"),                                   # new
        make_order("C", freight=Decimal("1")),             # new
        make_order("C", freight=Decimal("1")),             # repeat in batch, same content
        make_order("D"),                                   # new
        make_order("D", freight=Decimal("9")),             # repeat in batch, different: conflict
        make_order("E", lines=[OrderLine(sku="x", description="y", hs_code="610910", qty=0,
                                         unit_price=Decimal(1))]),  # invalid
        make_order("A", freight=Decimal("7")),             # stored with other content: conflict
    ])  # fmt: skip
    with UnitOfWork(engine) as uow:
        report = capture_batch(uow, batch)
        uow.commit()
    statuses = dict(zip(report.results["rec"].to_list(), report.results["status"].to_list(),
                        strict=True))  # fmt: skip
    assert statuses == {0: "existing", 1: "created", 2: "created", 3: "existing", 4: "created"}
    assert sorted(report.errors["rec"].unique().to_list()) == [5, 6, 7]
    ids = dict(zip(report.results["rec"].to_list(), report.results["order_id"].to_list(),
                   strict=True))  # fmt: skip
    assert ids[2] == ids[3]
    assert count(engine, orders) == 4
    assert count(engine, order_lines) == 8


def test_nothing_is_half_written_when_the_transaction_is_not_committed(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        capture_batch(uow, order_frames([make_order("A"), make_order("B")]))
        # no commit: as if the process died here
    assert count(engine, orders) == 0 and count(engine, order_lines) == 0


def test_invalid_single_order_raises_with_field(engine: Engine) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(InvalidValue) as info:
        capture_order(uow, make_order(currency="ABC"))
    assert info.value.field == "currency"
    assert count(engine, orders) == 0


def payment(amount: str, txn: str = "T1", **kw: object) -> PaymentRecord:
    base = {
        "channel": "shop-de",
        "external_id": "ORD-1",
        "provider": "pay-co",
        "transaction_id": txn,
        "payer_name": "Lena Vogel",
        "amount": Decimal(amount),
        "currency": "EUR",
        "paid_at": datetime(2026, 11, 24, 10, 31, tzinfo=UTC),
    }
    base.update(kw)
    return PaymentRecord(**base)  # type: ignore[arg-type]


def test_payments_mark_the_order_paid_and_are_idempotent(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        order_id = capture_order(uow, make_order()).order_id
        partial = record_payment(uow, payment("20.00"))
        rest = record_payment(uow, payment("8.38", txn="T2"))  # 2*9.99 + 4.50 + 3.90 = 28.38
        retry = record_payment(uow, payment("8.38", txn="T2"))
        uow.commit()
    assert not partial.fully_paid and rest.fully_paid
    assert retry.payment_id == rest.payment_id and not retry.created
    view = show_order(UnitOfWork(engine), order_id)
    assert view.order["status"] == "paid" and len(view.payments) == 2
    assert [t["status"] for t in view.timeline][1:] == ["Paid 20.00 EUR", "Paid 8.38 EUR"]


def test_payment_errors(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        capture_order(uow, make_order())
        record_payment(uow, payment("1.00"))
        with pytest.raises(Conflict):
            record_payment(uow, payment("2.00"))
        with pytest.raises(NotFound):
            record_payment(uow, payment("1.00", txn="T9", external_id="nope"))
        with pytest.raises(InvalidValue) as info:
            record_payment(uow, payment("1.00", txn="T8", currency="USD"))
        assert info.value.field == "currency"
        with pytest.raises(InvalidValue):
            record_payment(uow, payment("0.001", txn="T7"))
