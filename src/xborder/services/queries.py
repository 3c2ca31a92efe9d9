"""Read-side use cases: list and show orders, describe the stored world."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from xborder.domain.money import Money
from xborder.store.schema import lanes, last_mile, warehouses
from xborder.store.uow import UnitOfWork


def list_orders(
    engine: Engine, *, status: str | None = None, channel: str | None = None, limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:  # fmt: skip
    with UnitOfWork(engine) as uow:
        return uow.orders.recent(status=status, channel=channel, limit=limit, offset=offset)


def show_order(engine: Engine, order_id: int) -> dict[str, Any] | None:
    """An order with money as ``Decimal`` text in its currency, its lines and payments."""
    with UnitOfWork(engine) as uow:
        orders, lines = uow.orders.load([order_id])
        if orders.height == 0:
            return None
        order = orders.row(0, named=True)
        payments = uow.orders.payments_for(order_id)
    currency = order["currency"]

    def money(minor: int) -> str:
        return str(Money.from_minor(minor, currency).amount)

    result = {k: v for k, v in order.items() if not k.endswith("_minor")}
    result.update(
        {k.removesuffix("_minor"): money(v) for k, v in order.items() if k.endswith("_minor")}
    )
    result["lines"] = [
        {**{k: v for k, v in line.items() if k not in {"order_id", "unit_price_minor"}},
         "unit_price": money(line["unit_price_minor"])}
        for line in lines.to_dicts()
    ]  # fmt: skip
    result["payments"] = [
        {**{k: v for k, v in p.items() if k != "amount_minor"},
         "amount": str(Money.from_minor(p["amount_minor"], p["currency"]).amount)}
        for p in payments
    ]  # fmt: skip
    return result


def describe_world(engine: Engine) -> dict[str, Any]:
    with UnitOfWork(engine) as uow:
        return {
            "worlds": uow.world.loaded(),
            "counts": uow.world.counts(),
            "warehouses": uow.world.rows(warehouses),
            "lanes": uow.world.rows(lanes),
            "last_mile": uow.world.rows(last_mile),
        }
