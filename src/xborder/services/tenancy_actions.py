"""The lifecycle actions a party may take over the API, each confined to its own objects: a
payment provider records its payments (a platform those of the orders placed on it), the
operator plans and bags, the operator or a warehouse packs what was planned at its warehouses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from xborder.domain.errors import Forbidden, InvalidValue, NotFound
from xborder.domain.orders import OrderStatus, PaymentRecord
from xborder.services.access import ApiRole, Principal
from xborder.services.parcels import PackOrders, PackResult, pack_orders
from xborder.services.payments import PaymentResult, record_payment
from xborder.services.planning import (
    Consolidate,
    ConsolidationResult,
    PlanFulfilment,
    PlanResult,
    consolidate,
    plan_fulfilment,
)
from xborder.services.tenancy import require_role
from xborder.store.uow import UnitOfWork


# --- payments ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PayFor:
    """A payment recorded by a payment provider (``provider`` is then the caller, default) or
    by the operator or a platform for the orders placed on it."""

    principal: Principal
    channel: str
    external_id: str
    transaction_id: str
    payer_name: str
    amount: Decimal
    currency: str
    provider: str | None = None
    payer_id_number: str | None = None
    paid_at: datetime | None = None


def pay_for(uow: UnitOfWork, command: PayFor) -> PaymentResult:
    principal = command.principal
    require_role(principal, ApiRole.OPERATOR, ApiRole.PAYMENT_PROVIDER, ApiRole.PLATFORM)
    provider = command.provider
    if principal.role is ApiRole.PAYMENT_PROVIDER:
        if provider not in (None, principal.party_id):
            raise Forbidden("a payment provider records its own payments only")
        provider = principal.party_id
    if not provider:
        raise InvalidValue("provider", "is required")
    with uow:
        owner = uow.tenancy.order_owner(command.channel, command.external_id)
        if owner is None or (
            principal.role is ApiRole.PLATFORM and owner["platform_id"] != principal.party_id
        ):
            raise NotFound(f"order {command.channel}/{command.external_id} does not exist")
        record = PaymentRecord(
            channel=command.channel, external_id=command.external_id, provider=provider,
            transaction_id=command.transaction_id, payer_name=command.payer_name,
            payer_id_number=command.payer_id_number, amount=command.amount,
            currency=command.currency, paid_at=command.paid_at or uow.clock.now(),
        )  # fmt: skip
        result = record_payment(uow, record)
        uow.commit()
    return result


# --- the operator's and warehouses' lifecycle actions -----------------------------------------
@dataclass(frozen=True, slots=True)
class PlanFor:
    principal: Principal
    method: str = "auto"
    replan: bool = False
    order_ids: tuple[int, ...] | None = None


def plan_for(uow: UnitOfWork, command: PlanFor) -> PlanResult:
    require_role(command.principal, ApiRole.OPERATOR)
    if command.method not in ("auto", "mip", "lp"):
        raise InvalidValue("method", "one of auto, mip, lp", command.method)
    return plan_fulfilment(
        uow, PlanFulfilment(command.method, command.replan, order_ids=command.order_ids)
    )


@dataclass(frozen=True, slots=True)
class PackFor:
    """Pack planned orders: the operator any, a warehouse those planned at its warehouses
    (``order_ids`` None: all of them)."""

    principal: Principal
    order_ids: tuple[int, ...] | None = None


def pack_for(uow: UnitOfWork, command: PackFor) -> PackResult:
    principal = command.principal
    require_role(principal, ApiRole.OPERATOR, ApiRole.WAREHOUSE)
    with uow:
        ids = command.order_ids
        if principal.role is ApiRole.WAREHOUSE:
            wanted = None if ids is None else sorted(set(ids))
            mine = uow.tenancy.planned_at(principal.party_id, wanted, OrderStatus.PLANNED.value)
            missing = sorted(set(wanted or ()) - set(mine))
            if missing:
                raise NotFound(f"order {missing[0]} is not planned at your warehouses")
            ids = tuple(mine)
            if not ids:
                return PackResult(0, 0)
        result = pack_orders(uow, PackOrders(ids))
        uow.commit()
    return result


@dataclass(frozen=True, slots=True)
class ConsolidateFor:
    principal: Principal
    one_per_bag: bool = False


def consolidate_for(uow: UnitOfWork, command: ConsolidateFor) -> ConsolidationResult:
    require_role(command.principal, ApiRole.OPERATOR)
    return consolidate(uow, Consolidate(one_per_bag=command.one_per_bag))
