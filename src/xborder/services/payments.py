"""Record the buyer's payment for an order (idempotent by provider + transaction id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from xborder.domain.clock import aware_utc
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.money import Money
from xborder.domain.orders import OrderStatus, PaymentRecord
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: int
    order_id: int
    created: bool
    fully_paid: bool


def record_payment(uow: UnitOfWork, payment: PaymentRecord) -> PaymentResult:
    """Store the payment (the provider's time may not be after the clock's now); an order whose
    payments cover goods + freight + insurance - discount turns ``paid``."""
    with uow:
        result = _record(uow, payment)
        uow.commit()
    return result


def _record(uow: UnitOfWork, payment: PaymentRecord) -> PaymentResult:
    paid_at = aware_utc(payment.paid_at, "paid_at")
    if paid_at > uow.clock.now():
        raise InvalidValue("paid_at", "is after the clock's now", paid_at.isoformat())
    order_id = uow.orders.id_for(payment.channel, payment.external_id)
    if order_id is None:
        raise NotFound(f"order {payment.channel}/{payment.external_id} does not exist")
    amount = Money(payment.amount, payment.currency)
    if amount.amount <= 0:
        raise InvalidValue("amount", "must be positive", str(payment.amount))
    if amount.rounded().amount != amount.amount:
        raise InvalidValue("amount", "has more decimal places than the currency allows",
                           str(payment.amount))  # fmt: skip
    row = {
        "order_id": order_id, "provider": payment.provider,
        "transaction_id": payment.transaction_id, "payer_name": payment.payer_name,
        "payer_id_number": payment.payer_id_number, "amount_minor": amount.minor,
        "currency": amount.currency, "paid_at": payment.paid_at,
    }  # fmt: skip
    stored = uow.orders.find_payment(payment.provider, payment.transaction_id)
    if stored is not None:
        same = all(stored[k] == v for k, v in row.items() if k != "paid_at")
        if not same:
            raise Conflict(f"payment {payment.provider}/{payment.transaction_id} exists with "
                           "different content")  # fmt: skip
        return PaymentResult(int(stored["id"]), order_id, False, _fully_paid(uow, order_id))
    order = uow.orders.load([order_id])[0].row(0, named=True)
    if order["currency"] != amount.currency:
        raise InvalidValue("currency", f"the order is in {order['currency']}", amount.currency)
    payment_id = uow.orders.insert_payment(row)
    paid = _fully_paid(uow, order_id)
    if paid and order["status"] == OrderStatus.CAPTURED.value:
        uow.orders.set_status([order_id], OrderStatus.PAID)
    return PaymentResult(payment_id, order_id, True, paid)


def _fully_paid(uow: UnitOfWork, order_id: int) -> bool:
    order = uow.orders.load([order_id])[0].row(0, named=True)
    due = (order["goods_minor"] + order["freight_minor"] + order["insurance_minor"]
           - order["discount_minor"])  # fmt: skip
    paid = sum(p["amount_minor"] for p in uow.orders.payments_for(order_id))
    return bool(paid >= due)


@dataclass(frozen=True, slots=True)
class RecordPayments:
    """Many payments at once (a provider's settlement file, the simulator's buyers)."""

    payments: tuple[PaymentRecord, ...]


@dataclass(frozen=True, slots=True)
class PaymentsReport:
    recorded: int
    already_stored: int
    orders_paid: int  # orders that turned ``paid`` with these payments


def record_payments(uow: UnitOfWork, command: RecordPayments) -> PaymentsReport:
    """Set-wise ``record_payment``: the same checks, one transaction, all or nothing."""
    with uow:
        report = _record_many(uow, command.payments)
        uow.commit()
    return report


def _record_many(uow: UnitOfWork, records: tuple[PaymentRecord, ...]) -> PaymentsReport:
    if not records:
        return PaymentsReport(0, 0, 0)
    now = uow.clock.now()
    keys = pl.DataFrame(
        [(p.channel, p.external_id) for p in records],
        schema={"channel": pl.String, "external_id": pl.String}, orient="row",
    )  # fmt: skip
    ids = {(c, e): int(i) for c, e, i in uow.orders.find_keys(keys).iter_rows()}
    stored = uow.orders.stored_payments([(p.provider, p.transaction_id) for p in records])
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    already = 0
    for i, p in enumerate(records):
        where = f"payments[{i}]"
        order_id = ids.get((p.channel, p.external_id))
        if order_id is None:
            raise NotFound(f"{where}: order {p.channel}/{p.external_id} does not exist")
        paid_at = aware_utc(p.paid_at, f"{where}.paid_at")
        if paid_at > now:
            raise InvalidValue(f"{where}.paid_at", "is after the clock's now", paid_at.isoformat())
        amount = Money(p.amount, p.currency)
        if amount.amount <= 0 or amount.rounded().amount != amount.amount:
            raise InvalidValue(f"{where}.amount", "must be positive, in the currency's minor "
                               "units", str(p.amount))  # fmt: skip
        key = (p.provider, p.transaction_id)
        if key in stored or key in seen:
            already += 1
            continue
        seen.add(key)
        rows.append({
            "order_id": order_id, "provider": p.provider, "transaction_id": p.transaction_id,
            "payer_name": p.payer_name, "payer_id_number": p.payer_id_number,
            "amount_minor": amount.minor, "currency": amount.currency, "paid_at": paid_at,
        })  # fmt: skip
    orders = uow.orders.load(sorted({r["order_id"] for r in rows}))[0] if rows else None
    currency = dict(orders.select("id", "currency").iter_rows()) if orders is not None else {}
    wrong = next((r for r in rows if currency[r["order_id"]] != r["currency"]), None)
    if wrong is not None:
        raise InvalidValue("currency", f"order {wrong['order_id']} is in "
                           f"{currency[wrong['order_id']]}", wrong["currency"])  # fmt: skip
    uow.orders.insert_payments(rows)
    touched = sorted({r["order_id"] for r in rows})
    statuses = uow.orders.statuses(touched)
    newly = [o for o in uow.orders.fully_paid(touched)
             if statuses[o] == OrderStatus.CAPTURED.value]  # fmt: skip
    uow.orders.set_status(newly, OrderStatus.PAID)
    return PaymentsReport(len(rows), already, len(newly))
