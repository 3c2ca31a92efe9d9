"""Use cases that end an order before it ships: cancel it, or let an unpaid one expire.

An order can be cancelled while it is captured, paid or planned (not yet packed): its reserved
stock goes back to the shelf in the same transaction. Once a parcel exists, the order follows its
parcels (``xborder.services.parcels``) and a cancellation is refused. Money held for a
cancelled order is refunded by settlement, which derives it from the order's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from xborder.domain.errors import NotFound
from xborder.domain.lifecycle import ORDER_TRANSITIONS, InvalidTransition
from xborder.domain.orders import OrderStatus
from xborder.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CancelOrders:
    order_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CancelResult:
    cancelled: int
    already_cancelled: int


def cancel_orders(uow: UnitOfWork, command: CancelOrders) -> CancelResult:
    """Cancel the orders (all or none); repeating a cancellation changes nothing."""
    with uow:
        result = _cancel(uow, command.order_ids)
        uow.commit()
    return result


def _cancel(uow: UnitOfWork, order_ids: tuple[int, ...]) -> CancelResult:
    ids = sorted(set(order_ids))
    statuses = uow.orders.statuses(ids)
    missing = next((i for i in ids if i not in statuses), None)
    if missing is not None:
        raise NotFound(f"order {missing} does not exist")
    packed = set(uow.parcels.of_orders(ids).get_column("order_id").to_list())
    done = [i for i in ids if statuses[i] == OrderStatus.CANCELLED.value]
    todo = [i for i in ids if i not in done]
    for i in todo:
        current = OrderStatus(statuses[i])
        if OrderStatus.CANCELLED not in ORDER_TRANSITIONS[current] or i in packed:
            allowed = [s.value for s in ORDER_TRANSITIONS[current]]
            raise InvalidTransition(f"order {i}", "packed" if i in packed else current.value,
                                    "cancelling", allowed)  # fmt: skip
    planned = [i for i in todo if statuses[i] == OrderStatus.PLANNED.value]
    if planned:
        uow.planning.release(planned)
    uow.orders.set_status(todo, OrderStatus.CANCELLED)
    return CancelResult(len(todo), len(done))


@dataclass(frozen=True, slots=True)
class ExpireUnpaid:
    """Cancel captured orders still unpaid ``after`` their placing (a checkout's payment window;
    the simulator uses three days)."""

    after: timedelta = timedelta(days=3)


def expire_unpaid(uow: UnitOfWork, command: ExpireUnpaid | None = None) -> CancelResult:
    cmd = command or ExpireUnpaid()
    with uow:
        cutoff = uow.clock.now() - cmd.after
        stale = tuple(
            int(r["id"]) for r in uow.orders.awaiting_payment() if r["placed_at"] <= cutoff
        )
        result = _cancel(uow, stale) if stale else CancelResult(0, 0)
        uow.commit()
    return result
