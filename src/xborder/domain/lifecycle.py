"""The order and parcel lifecycle: the states, the steps that move them, the allowed transitions.

One parcel is one concept from packing to its end: created when packed, with one SSCC and one
tracking number, known to planning, trace, customs and settlement alike. A parcel's state is the
fold of its trace events (its own and its bag's while inside the bag); the use case that records
a step writes the event and the new state in one transaction, so the stored state always equals
the fold. An order's state follows its payment, its plan and then its parcels.

The tables here are the single definition of what may happen; ``docs/lifecycle.md`` draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from xborder.domain.errors import Conflict
from xborder.domain.orders import OrderStatus


class Step(StrEnum):
    """A fact recorded about a parcel or a bag (each written as one EPCIS event)."""

    ORDER_PLACED = "order_placed"
    PICKED_PACKED = "picked_packed"
    CONSOLIDATED = "consolidated"
    DEPARTED = "departed"
    ARRIVED = "arrived"
    EXPORT_HELD = "export_held"
    EXPORT_INSPECTED = "export_inspected"
    EXPORT_RELEASED = "export_released"
    EXPORT_REJECTED = "export_rejected"
    IMPORT_HELD = "import_held"
    IMPORT_INSPECTED = "import_inspected"
    IMPORT_RELEASED = "import_released"
    IMPORT_REJECTED = "import_rejected"
    DECONSOLIDATED = "deconsolidated"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPT = "delivery_attempt"
    DELIVERED = "delivered"
    DAMAGED = "damaged"
    LOST = "lost"
    RETURNED = "returned"


class ParcelStatus(StrEnum):
    PACKED = "packed"
    CONSOLIDATED = "consolidated"
    EXPORT_HELD = "export_held"
    EXPORT_CLEARED = "export_cleared"
    DEPARTED = "departed"
    ARRIVED = "arrived"
    IMPORT_HELD = "import_held"
    IMPORT_CLEARED = "import_cleared"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    DELIVERED = "delivered"
    DAMAGED = "damaged"
    LOST = "lost"
    RETURNED = "returned"


P, S = ParcelStatus, Step

# The state a step leaves the parcel in. ``order_placed`` (the order's transaction event, written
# at packing with the order's time) and ``deconsolidated`` (the bag is opened) move nothing.
# A customs refusal leaves the parcel held until it is returned or destroyed (recorded as lost).
STATE_AFTER: Mapping[Step, ParcelStatus | None] = MappingProxyType(
    {
        S.ORDER_PLACED: None,
        S.PICKED_PACKED: P.PACKED,
        S.CONSOLIDATED: P.CONSOLIDATED,
        S.DEPARTED: P.DEPARTED,
        S.ARRIVED: P.ARRIVED,
        S.EXPORT_HELD: P.EXPORT_HELD,
        S.EXPORT_INSPECTED: P.EXPORT_HELD,
        S.EXPORT_RELEASED: P.EXPORT_CLEARED,
        S.EXPORT_REJECTED: P.EXPORT_HELD,
        S.IMPORT_HELD: P.IMPORT_HELD,
        S.IMPORT_INSPECTED: P.IMPORT_HELD,
        S.IMPORT_RELEASED: P.IMPORT_CLEARED,
        S.IMPORT_REJECTED: P.IMPORT_HELD,
        S.DECONSOLIDATED: None,
        S.OUT_FOR_DELIVERY: P.OUT_FOR_DELIVERY,
        S.DELIVERY_ATTEMPT: P.DELIVERY_ATTEMPTED,
        S.DELIVERED: P.DELIVERED,
        S.DAMAGED: P.DAMAGED,
        S.LOST: P.LOST,
        S.RETURNED: P.RETURNED,
    }
)

_EXPORT = frozenset({S.EXPORT_HELD, S.EXPORT_INSPECTED, S.EXPORT_RELEASED, S.EXPORT_REJECTED})
_IMPORT = frozenset({S.IMPORT_HELD, S.IMPORT_INSPECTED, S.IMPORT_RELEASED, S.IMPORT_REJECTED})
_MISHAP = frozenset({S.LOST, S.DAMAGED})

# Which steps may follow each state (``None``: the parcel has no event yet). A parcel from a
# warehouse in the buyer's country goes out for delivery straight from packing; one crossing a
# border is bagged, cleared for export where the origin requires it, departs, arrives, is
# cleared for import, unpacked and delivered.
ALLOWED: Mapping[ParcelStatus | None, frozenset[Step]] = MappingProxyType(
    {
        None: frozenset({S.ORDER_PLACED, S.PICKED_PACKED}),
        # import steps from packing: a parcel from a bonded or overseas warehouse in the buyer's
        # country is cleared per order before it goes out for delivery
        P.PACKED: frozenset(
            {S.CONSOLIDATED, S.DEPARTED, S.OUT_FOR_DELIVERY, S.RETURNED}
            | _EXPORT
            | _IMPORT
            | _MISHAP
        ),
        P.CONSOLIDATED: frozenset({S.DEPARTED} | _EXPORT | _MISHAP),
        P.EXPORT_HELD: frozenset({S.RETURNED, S.LOST} | _EXPORT),
        P.EXPORT_CLEARED: frozenset({S.CONSOLIDATED, S.DEPARTED} | _MISHAP),
        P.DEPARTED: frozenset({S.ARRIVED} | _MISHAP),
        P.ARRIVED: frozenset({S.DECONSOLIDATED} | _IMPORT | _MISHAP),
        P.IMPORT_HELD: frozenset({S.RETURNED, S.LOST} | _IMPORT),
        P.IMPORT_CLEARED: frozenset({S.DECONSOLIDATED, S.OUT_FOR_DELIVERY} | _MISHAP),
        P.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.DELIVERY_ATTEMPT} | _MISHAP),
        P.DELIVERY_ATTEMPTED: frozenset(
            {S.OUT_FOR_DELIVERY, S.DELIVERED, S.DELIVERY_ATTEMPT, S.RETURNED} | _MISHAP
        ),
        P.DAMAGED: frozenset({S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED, S.LOST}),
        P.DELIVERED: frozenset({S.RETURNED}),
        P.LOST: frozenset(),
        P.RETURNED: frozenset(),
    }
)

PARCEL_TERMINAL = frozenset({P.DELIVERED, P.LOST, P.RETURNED})
# A parcel in one of these has left the warehouse: its order is shipped.
LEFT_WAREHOUSE = frozenset(ParcelStatus) - {P.PACKED, P.CONSOLIDATED, P.EXPORT_HELD,
                                            P.EXPORT_CLEARED}  # fmt: skip


class InvalidTransition(Conflict):
    """A step that the lifecycle does not allow from the current state; nothing was changed."""

    def __init__(
        self, subject: str, current: str | None, step: str, allowed: Iterable[str] | None = None
    ) -> None:
        self.subject, self.current, self.step = subject, current, step
        if allowed is None:
            known = current is None or current in ParcelStatus.__members__.values()
            allowed = ALLOWED.get(_parcel_status(current), ()) if known else ()
        listed = ", ".join(sorted(allowed)) or "nothing"
        state = current or "not yet packed"
        super().__init__(f"{subject}: {step} is not allowed when {state} (allowed: {listed})")


def _parcel_status(value: str | None) -> ParcelStatus | None:
    return None if value is None else ParcelStatus(value)


def advance(subject: str, current: str | None, step: str) -> ParcelStatus | None:
    """The state after ``step``, or ``InvalidTransition``; ``None`` means "still not packed"."""
    state, move = _parcel_status(current), Step(step)
    if move not in ALLOWED[state]:
        raise InvalidTransition(subject, current, step)
    after = STATE_AFTER[move]
    return state if after is None else after


def fold(subject: str, steps: Iterable[str]) -> ParcelStatus | None:
    """A parcel's state from its steps in time order (raises on a step that is not allowed)."""
    state: ParcelStatus | None = None
    for step in steps:
        state = advance(subject, state, step)
    return state


ALLOWED_PAIRS: frozenset[tuple[str | None, str]] = frozenset(
    (None if state is None else state.value, step.value)
    for state, steps in ALLOWED.items()
    for step in steps
)


# ---- orders ------------------------------------------------------------------------------------
O = OrderStatus  # noqa: E741
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        O.CAPTURED: frozenset({O.PAID, O.PLANNED, O.CANCELLED}),
        O.PAID: frozenset({O.PLANNED, O.CANCELLED}),
        # re-planning gives an unpacked order back to its earlier state
        O.PLANNED: frozenset({O.CAPTURED, O.PAID, O.SHIPPED, O.CANCELLED}),
        O.SHIPPED: frozenset({O.DELIVERED, O.PARTLY_DELIVERED, O.LOST, O.RETURNED}),
        O.DELIVERED: frozenset({O.RETURNED}),
        O.PARTLY_DELIVERED: frozenset({O.RETURNED}),
        O.LOST: frozenset(),
        O.RETURNED: frozenset(),
        O.CANCELLED: frozenset(),
    }
)
ORDER_TERMINAL = frozenset(s for s, nxt in ORDER_TRANSITIONS.items() if not nxt)


def order_reachable(current: OrderStatus, target: OrderStatus) -> bool:
    """Whether ``target`` follows ``current`` through allowed transitions (or is it)."""
    seen, frontier = {current}, [current]
    while frontier:
        for nxt in ORDER_TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return target in seen


def order_status_from_parcels(statuses: Iterable[str]) -> OrderStatus | None:
    """What an order's parcels make it: ``None`` while none has left the warehouse.

    Every parcel delivered: delivered. Every parcel at an end, some delivered: partly
    delivered. None delivered: returned if every one came back, else lost. Otherwise shipped.
    """
    states = [ParcelStatus(s) for s in statuses]
    if not states or not any(s in LEFT_WAREHOUSE for s in states):
        return None
    if not all(s in PARCEL_TERMINAL for s in states):
        return O.SHIPPED
    delivered = sum(s == P.DELIVERED for s in states)
    if delivered == len(states):
        return O.DELIVERED
    if delivered:
        return O.PARTLY_DELIVERED
    return O.RETURNED if all(s == P.RETURNED for s in states) else O.LOST
