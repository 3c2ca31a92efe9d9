"""Record the buyer's payment for an order (idempotent by provider + transaction id)."""

from __future__ import annotations

from dataclasses import dataclass

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
