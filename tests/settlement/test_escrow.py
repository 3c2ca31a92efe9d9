"""The escrow lifecycle on real stores: capture, DDP tax, delivery, confirmation (explicit and
automatic), returns, orders that never ship, loss in custody, lateness penalties, partner pay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from xborder.domain.clock import SettableClock
from xborder.domain.errors import InvalidValue
from xborder.domain.money import FxRate, FxTable
from xborder.services.settlement import (
    AutoConfirm,
    Balances,
    CapturePaid,
    CompensateLoss,
    ConfirmDelivery,
    EscrowState,
    EscrowTerms,
    MarkDelivered,
    PayPartners,
    RefundOrders,
    RemitTaxes,
    SettleDeclaredTaxes,
    SlaTerms,
    StatementQuery,
    WithholdTaxes,
    auto_confirm,
    balances,
    capture_paid,
    compensate_loss,
    confirm_delivery,
    escrow_state,
    mark_delivered,
    pay_partners,
    refund_orders,
    remit_taxes,
    settle_declared_taxes,
    statement,
    withhold_taxes,
)
from xborder.store.schema import orders, payments
from xborder.store.schema_customs import customs_declarations
from xborder.store.schema_settlement import ledger_transfers
from xborder.store.uow import UnitOfWork

TERMS = EscrowTerms(platform="plat", buyers="pay-co", fee_rate=Decimal("0.05"),
                    auto_confirm_days=7)  # fmt: skip
T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)
PAID = 2838  # 2 x 9.99 + 4.50 goods + 3.90 freight (EUR cents)
GOODS = 2448
TAX = 300
FEE = 122  # 5% of 24.48 = 1.224 -> 1.22
NOW = T0 + timedelta(days=60)  # the clock of these tests: every step is in its past


def at_now(engine: Engine, now: datetime = NOW) -> UnitOfWork:
    """A unit of work on a clock stopped at ``now``."""
    return UnitOfWork(engine, SettableClock(now))


def _orders(engine: Engine, n: int, paid: bool = True) -> list[int]:
    """Paid orders written straight into the store (capture is another area's tested path)."""
    with UnitOfWork(engine) as uow:
        start = uow.connection.execute(select(func.coalesce(func.max(orders.c.id), 0))).scalar_one()
        ids = list(range(start + 1, start + 1 + n))
        uow.connection.execute(orders.insert(), [{
            "id": i, "channel": "shop-de", "external_id": f"ORD-{i}",
            "seller_id": "seller-sz-gadgets", "platform_id": None, "trade_mode": "B2C",
            "direction": "export", "incoterm": "DDP", "currency": "EUR", "origin_country": "CN",
            "buyer_name": "Lena Vogel", "buyer_telephone": "+49 30 1234567",
            "consignee_name": "Lena Vogel", "consignee_telephone": "+49 30 1234567",
            "consignee_line1": "Invalidenstrasse 117", "consignee_city": "Berlin",
            "consignee_postcode": "10115", "consignee_country": "DE", "freight_minor": 390,
            "insurance_minor": 0, "discount_minor": 0, "goods_minor": GOODS, "line_count": 2,
            "placed_at": T0, "promised_by": date(2026, 12, 4), "status": "paid",
        } for i in ids])  # fmt: skip
        if not paid:
            uow.commit()
            return ids
        uow.connection.execute(payments.insert(), [{
            "order_id": i, "provider": "pay-co", "transaction_id": f"T{i}",
            "payer_name": "Lena Vogel", "amount_minor": PAID, "currency": "EUR", "paid_at": T0,
        } for i in ids])  # fmt: skip
        uow.commit()
    return ids


def _transfer_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one())


def _check_invariants(engine: Engine, ids: list[int]) -> None:
    with at_now(engine) as uow:
        frame = balances(uow, Balances())
        state = escrow_state(uow, EscrowState(ids))
    for cur in frame.get_column("currency").unique().to_list():
        assert frame.filter(pl.col("currency") == cur)["balance"].sum() == 0
    escrow = frame.filter((pl.col("party") == "plat") & (pl.col("purpose") == "escrow"))
    # escrow holds what was paid and not yet released, refunded, remitted or taken as fee
    assert escrow["balance"].sum() == state["held"].sum()
    expected = (state["captured"] - state["released"] - state["refunded"] - state["tax_remitted"]
                - state["fee_posted"]).sum()  # fmt: skip
    assert escrow["balance"].sum() == expected
    assert (state["held"] >= 0).all() and (state["free"] >= 0).all()


def test_the_whole_lifecycle(engine: Engine) -> None:
    ok, late, lost, unshipped = _orders(engine, 4)
    ids = [ok, late, lost, unshipped]
    steps: list[Callable[[UnitOfWork], Any]] = []
    with at_now(engine) as uow:
        steps.append(lambda u: capture_paid(u, CapturePaid(TERMS, ids, T0)))
        taxes = pl.DataFrame({"order_id": ids, "tax": [TAX] * 4, "authority": ["customs-de"] * 4})
        steps.append(lambda u: withhold_taxes(u, WithholdTaxes(TERMS, taxes, T0)))
        steps.append(lambda u: remit_taxes(u, RemitTaxes([ok, late, lost], T0 + timedelta(days=2))))
        delivered = pl.DataFrame({
            "order_id": [ok, late],
            "delivered_at": [T0 + timedelta(days=5), T0 + timedelta(days=13)],
            "responsible": ["dhl-de", "dhl-de"],
        })  # fmt: skip
        sla = SlaTerms(penalty_per_day=100, penalty_cap=1000)
        steps.append(lambda u: mark_delivered(u, MarkDelivered(TERMS, delivered, sla)))
        steps.append(
            lambda u: refund_orders(
                u, RefundOrders(TERMS, [late], "refund.return", T0 + timedelta(days=14))
            )
        )
        steps.append(
            lambda u: refund_orders(u, RefundOrders(TERMS, [unshipped], "refund.unshipped", T0))
        )
        losses = pl.DataFrame({"order_id": [lost], "custodian": ["line-x"]})
        steps.append(
            lambda u: compensate_loss(u, CompensateLoss(TERMS, losses, T0 + timedelta(days=6)))
        )
        for step in steps:
            step(uow)
        uow.commit()
    _check_invariants(engine, ids)
    with at_now(engine) as uow:
        state = {
            r["order_id"]: r for r in escrow_state(uow, EscrowState(ids)).iter_rows(named=True)
        }
        assert state[ok]["release_open"] and state[ok]["release"] == PAID - TAX - FEE
        assert state[late]["refunded"] == PAID - TAX and not state[late]["release_open"]
        assert state[unshipped]["refunded"] == PAID
        assert not state[unshipped]["tax_open"]
        assert state[lost]["refunded"] == PAID - TAX
        # nothing auto-confirms before N days; then the delivery is confirmed
        assert auto_confirm(uow, AutoConfirm(TERMS, T0 + timedelta(days=11))).posted == 0
        assert auto_confirm(uow, AutoConfirm(TERMS, T0 + timedelta(days=13))).posted == 2
        uow.commit()
    _check_invariants(engine, ids)
    with at_now(engine) as uow:
        bal = {
            f"{r['party']}:{r['purpose']}": r["balance"]
            for r in balances(uow, Balances()).iter_rows(named=True)
        }
    assert bal["plat:escrow"] == 0
    assert bal["seller-sz-gadgets:proceeds"] == PAID - TAX - FEE
    assert bal["plat:fees"] == FEE
    assert bal["customs-de:tax"] == 3 * TAX
    assert bal["seller-sz-gadgets:compensation"] == GOODS + 300  # lost goods; 3 days late
    assert bal["line-x:receivable"] == -(GOODS + TAX)
    assert bal["dhl-de:receivable"] == -300
    # the buyers got back everything except the delivered order and the tax of the returned one
    assert bal["pay-co:funds"] == -(PAID + TAX)

    # replaying every step is a retry: nothing new is posted
    before = _transfer_count(engine)
    with at_now(engine) as uow:
        for step in steps[:4] + steps[5:]:
            step(uow)
        confirm_delivery(uow, ConfirmDelivery([ok], T0 + timedelta(days=20)))
        uow.commit()
    assert _transfer_count(engine) == before
    _check_invariants(engine, ids)


def test_partner_pay_through_fx_keeps_each_currency_balanced(engine: Engine) -> None:
    (order,) = _orders(engine, 1)
    fx = FxTable.of([FxRate(date(2026, 11, 1), "EUR", "CNY", Decimal("8.00"))])
    charges = pl.DataFrame({
        "order_id": [order, order], "partner": ["line-x", "dhl-de"], "role": ["lane", "last_mile"],
        "partner_currency": ["CNY", "EUR"], "partner_amount": [800, 250],
    })  # fmt: skip
    with at_now(engine) as uow:
        capture_paid(uow, CapturePaid(TERMS, [order], T0))
        pay_partners(uow, PayPartners(TERMS, charges, fx, date(2026, 11, 24), T0))
        uow.commit()
        frame = balances(uow, Balances())
    bal = {
        f"{r['party']}:{r['purpose']}:{r['currency']}": r["balance"]
        for r in frame.iter_rows(named=True)
    }
    assert bal["line-x:receivable:CNY"] == 800
    assert bal["plat:fx:CNY"] == -800 and bal["plat:fx:EUR"] == 100  # 8.00 CNY = 1.00 EUR
    assert bal["seller-sz-gadgets:proceeds:EUR"] == -350
    assert bal["dhl-de:receivable:EUR"] == 250
    with at_now(engine) as uow:
        lines = statement(uow, StatementQuery("line-x")).lines
    assert [(line.account, str(line.closing)) for line in lines] == [
        ("line-x:receivable:CNY", "8.00 CNY")
    ]


def test_bad_lifecycle_requests_are_refused(engine: Engine) -> None:
    (order,) = _orders(engine, 1)
    with at_now(engine) as uow:
        with pytest.raises(InvalidValue) as missing:
            capture_paid(uow, CapturePaid(TERMS, [order, 999], T0))
        assert missing.value.field == "order_id"
        deliveries = pl.DataFrame({"order_id": [order], "delivered_at": [T0]})
        with pytest.raises(InvalidValue, match="nothing in escrow"):
            mark_delivered(uow, MarkDelivered(TERMS, deliveries))
        with pytest.raises(InvalidValue, match="after the clock's now") as future:
            capture_paid(uow, CapturePaid(TERMS, [order], NOW + timedelta(seconds=1)))
        assert future.value.field == "at"
        capture_paid(uow, CapturePaid(TERMS, [order], T0))
        too_much = pl.DataFrame({"order_id": [order], "tax": [PAID + 1], "authority": ["c"]})
        with pytest.raises(InvalidValue) as tax:
            withhold_taxes(uow, WithholdTaxes(TERMS, too_much, T0))
        assert tax.value.field == f"order {order}.tax"
        mark_delivered(uow, MarkDelivered(TERMS, deliveries))
        confirm_delivery(uow, ConfirmDelivery([order], T0))
        with pytest.raises(InvalidValue, match="already released"):
            refund_orders(uow, RefundOrders(TERMS, [order], "refund.unshipped", T0))


def test_a_return_after_release_is_corrected_from_the_seller_and_the_fee(engine: Engine) -> None:
    (order,) = _orders(engine, 1)
    deliveries = pl.DataFrame({"order_id": [order], "delivered_at": [T0]})
    with at_now(engine) as uow:
        capture_paid(uow, CapturePaid(TERMS, [order], T0))
        mark_delivered(uow, MarkDelivered(TERMS, deliveries))
        confirm_delivery(uow, ConfirmDelivery([order], T0))
        later = T0 + timedelta(days=10)
        assert refund_orders(uow, RefundOrders(TERMS, [order], at=later)).posted == 2
        again = later + timedelta(days=1)
        assert refund_orders(uow, RefundOrders(TERMS, [order], at=again)).posted == 0
        uow.commit()
        bal = {
            f"{r['party']}:{r['purpose']}": r["balance"]
            for r in balances(uow, Balances()).iter_rows(named=True)
        }
    assert bal["pay-co:funds"] == 0 and bal["seller-sz-gadgets:proceeds"] == 0
    assert bal["plat:fees"] == 0 and bal["plat:escrow"] == 0
    _check_invariants(engine, [order])


def test_declared_ddp_taxes_are_withheld_and_remitted_once_released(engine: Engine) -> None:
    held, released, unpaid = _orders(engine, 3)
    declarations = [
        (held, "DE", "EUR", 400, "declared"),
        (released, "GB", "GBP", 170, "released"),  # GBP tax on a EUR order: converted
        (unpaid, "DE", "EUR", 400, "released"),
    ]
    with at_now(engine) as uow:
        uow.connection.execute(customs_declarations.insert(), [{
            "order_no": f"ORD-{oid}", "order_id": oid, "regime": "EU", "destination": dest,
            "channel": "ioss", "customs_mode": None, "buyer_id": None,
            "declared_on": date(2026, 11, 24), "tax_currency": cur, "customs_value_minor": GOODS,
            "duty_minor": 0, "vat_minor": tax, "consumption_tax_minor": 0, "fees_minor": 0,
            "total_tax_minor": tax, "landed_minor": GOODS + tax, "counted_minor": 0,
            "incoterm": "DDP", "tax_payer": "seller", "collected_at": "checkout",
            "status": status, "released_on": None, "rules": "[]",
        } for oid, dest, cur, tax, status in declarations])  # fmt: skip
        # the third order's money never came
        capture_paid(uow, CapturePaid(TERMS, [held, released], T0))
        fx = FxTable.of([FxRate(date(2026, 11, 1), "EUR", "GBP", Decimal("0.85"))])
        command = SettleDeclaredTaxes(TERMS, [held, released, unpaid], fx, T0)
        first = settle_declared_taxes(uow, command)
        assert (first.withheld.posted, first.remitted.posted) == (2, 1)
        again = settle_declared_taxes(uow, command)
        assert (again.withheld.posted, again.remitted.posted) == (0, 0)
        uow.commit()
        state = {
            r["order_id"]: r
            for r in escrow_state(uow, EscrowState([held, released])).iter_rows(named=True)
        }
        bal = {f"{r['party']}:{r['purpose']}:{r['currency']}": (r["balance"], r["credits_pending"])
               for r in balances(uow, Balances()).iter_rows(named=True)}  # fmt: skip
    assert state[held]["tax_open"] and state[held]["tax"] == 400
    assert state[released]["tax_remitted"] == 200  # 1.70 GBP / 0.85 = 2.00 EUR
    assert bal["customs-gb:tax:EUR"] == (200, 0) and bal["customs-de:tax:EUR"] == (0, 400)
