"""The lifecycle tables: what each step leaves a parcel in, what may follow each state, and what
an order's parcels make of the order. Everything that records a step relies on these tables, so
they are pinned here explicitly (a changed landing state must be a decision, not an accident)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xborder.domain.errors import Conflict
from xborder.domain.lifecycle import (
    ALLOWED,
    ALLOWED_PAIRS,
    LEFT_WAREHOUSE,
    ORDER_TERMINAL,
    ORDER_TRANSITIONS,
    PARCEL_TERMINAL,
    STATE_AFTER,
    InvalidTransition,
    ParcelStatus,
    Step,
    advance,
    fold,
    order_reachable,
    order_status_from_parcels,
)
from xborder.domain.orders import OrderStatus

P, S, O = ParcelStatus, Step, OrderStatus  # noqa: E741

# The state each step leaves a parcel in, written out independently of the table under test.
LANDS_IN: dict[Step, ParcelStatus | None] = {
    S.ORDER_PLACED: None, S.PICKED_PACKED: P.PACKED, S.CONSOLIDATED: P.CONSOLIDATED,
    S.DEPARTED: P.DEPARTED, S.ARRIVED: P.ARRIVED, S.EXPORT_HELD: P.EXPORT_HELD,
    S.EXPORT_INSPECTED: P.EXPORT_HELD, S.EXPORT_RELEASED: P.EXPORT_CLEARED,
    S.EXPORT_REJECTED: P.EXPORT_HELD, S.IMPORT_HELD: P.IMPORT_HELD,
    S.IMPORT_INSPECTED: P.IMPORT_HELD, S.IMPORT_RELEASED: P.IMPORT_CLEARED,
    S.IMPORT_REJECTED: P.IMPORT_HELD, S.DECONSOLIDATED: None,
    S.OUT_FOR_DELIVERY: P.OUT_FOR_DELIVERY, S.DELIVERY_ATTEMPT: P.DELIVERY_ATTEMPTED,
    S.DELIVERED: P.DELIVERED, S.DAMAGED: P.DAMAGED, S.LOST: P.LOST, S.RETURNED: P.RETURNED,
}  # fmt: skip

FULL_TRIP = (
    S.PICKED_PACKED, S.CONSOLIDATED, S.EXPORT_RELEASED, S.DEPARTED, S.ARRIVED, S.DECONSOLIDATED,
    S.IMPORT_RELEASED, S.OUT_FOR_DELIVERY, S.DELIVERY_ATTEMPT, S.OUT_FOR_DELIVERY, S.DELIVERED,
)  # fmt: skip


# --- the tables -------------------------------------------------------------------------------
def test_every_step_has_a_landing_state_and_every_state_a_row() -> None:
    assert set(STATE_AFTER) == set(Step)
    assert set(ALLOWED) == {None, *ParcelStatus}
    for state, steps in ALLOWED.items():
        for step in steps:
            assert step in STATE_AFTER, (state, step)
            after = STATE_AFTER[step]
            # where an allowed step leads is itself a state with a row of its own
            assert (state if after is None else after) in ALLOWED


def test_landing_states_are_pinned() -> None:
    assert dict(STATE_AFTER) == LANDS_IN


def test_allowed_pairs_list_exactly_the_table() -> None:
    expected = {
        (None if s is None else s.value, step.value) for s, v in ALLOWED.items() for step in v
    }
    assert expected == ALLOWED_PAIRS
    assert (None, "picked_packed") in ALLOWED_PAIRS
    assert ("packed", "delivered") not in ALLOWED_PAIRS


def test_terminal_states_allow_nothing_but_a_return_after_delivery() -> None:
    assert {P.DELIVERED, P.LOST, P.RETURNED} == PARCEL_TERMINAL
    assert ALLOWED[P.LOST] == frozenset()
    assert ALLOWED[P.RETURNED] == frozenset()
    assert ALLOWED[P.DELIVERED] == {S.RETURNED}
    for state in set(ParcelStatus) - PARCEL_TERMINAL:
        assert ALLOWED[state], f"{state} is a dead end but not terminal"


def test_every_state_is_reachable_and_every_state_can_end() -> None:
    reached: set[ParcelStatus | None] = {None}
    frontier: list[ParcelStatus | None] = [None]
    while frontier:
        state = frontier.pop()
        for step in ALLOWED[state]:
            nxt = advance("p", state, step)
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == {None, *ParcelStatus}
    for state in ParcelStatus:  # from every state some path reaches an end
        seen, todo = {state}, [state]
        while todo:
            for step in ALLOWED[todo.pop()]:
                nxt = STATE_AFTER[step]
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & PARCEL_TERMINAL, state


def test_left_warehouse_is_everything_after_the_export_side() -> None:
    assert set(ParcelStatus) - LEFT_WAREHOUSE == {
        P.PACKED, P.CONSOLIDATED, P.EXPORT_HELD, P.EXPORT_CLEARED,
    }  # fmt: skip


# --- advance and fold -------------------------------------------------------------------------
def test_advance_refuses_delivery_from_packed_naming_subject_state_and_allowed_steps() -> None:
    with pytest.raises(InvalidTransition) as caught:
        advance("parcel XB000000000007", "packed", "delivered")
    error = caught.value
    assert isinstance(error, Conflict)
    assert (error.subject, error.current, error.step) == ("parcel XB000000000007", "packed",
                                                          "delivered")  # fmt: skip
    message = str(error)
    assert "parcel XB000000000007" in message and "delivered" in message
    assert "when packed" in message
    listed = message.split("(allowed: ", 1)[1].rstrip(")").split(", ")
    assert listed == sorted(ALLOWED[P.PACKED])


def test_advance_before_packing_and_from_an_end() -> None:
    with pytest.raises(InvalidTransition, match="not yet packed"):
        advance("p", None, "departed")
    with pytest.raises(InvalidTransition, match=r"allowed: nothing"):
        advance("p", "lost", "delivered")
    with pytest.raises(ValueError):
        advance("p", "packed", "teleported")
    assert advance("p", None, "order_placed") is None
    assert advance("p", "arrived", "deconsolidated") == P.ARRIVED
    assert advance("p", "delivered", "returned") == P.RETURNED


def test_fold_of_a_full_trip_ends_delivered() -> None:
    assert fold("p", [S.ORDER_PLACED, *FULL_TRIP]) == P.DELIVERED
    states = [fold("p", FULL_TRIP[: i + 1]) for i in range(len(FULL_TRIP))]
    assert states == [
        P.PACKED, P.CONSOLIDATED, P.EXPORT_CLEARED, P.DEPARTED, P.ARRIVED, P.ARRIVED,
        P.IMPORT_CLEARED, P.OUT_FOR_DELIVERY, P.DELIVERY_ATTEMPTED, P.OUT_FOR_DELIVERY,
        P.DELIVERED,
    ]  # fmt: skip
    assert fold("p", []) is None
    assert fold("p", [S.PICKED_PACKED, S.OUT_FOR_DELIVERY, S.DELIVERED]) == P.DELIVERED


def test_fold_stops_at_the_first_illegal_step() -> None:
    with pytest.raises(InvalidTransition) as caught:
        fold("bag CON1", [S.PICKED_PACKED, S.DEPARTED, S.DELIVERED])
    assert (caught.value.current, caught.value.step) == ("departed", "delivered")


@st.composite
def step_walks(draw: st.DrawFn) -> list[Step]:
    """Step sequences that mostly follow the table (so that long trips occur), with any step at
    all now and then (so that illegal ones occur too)."""
    walk: list[Step] = []
    state: ParcelStatus | None = None
    for _ in range(draw(st.integers(0, 16))):
        allowed = sorted(ALLOWED[state]) if state in ALLOWED else []
        legal = bool(allowed) and draw(st.integers(0, 9)) > 0
        step = draw(st.sampled_from(allowed if legal else list(Step)))
        walk.append(step)
        if step in ALLOWED.get(state, ()):
            landing = STATE_AFTER[step]
            state = state if landing is None else landing
    return walk


@given(step_walks())
def test_fold_is_each_allowed_transition_in_turn(steps: list[Step]) -> None:
    state: ParcelStatus | None = None
    first_illegal: int | None = None
    for i, step in enumerate(steps):  # a reference fold written against the tables directly
        if step not in ALLOWED[state]:
            first_illegal = i
            break
        landing = STATE_AFTER[step]
        state = state if landing is None else landing
        assert state in ALLOWED  # every prefix ends in a known state
        assert fold("p", steps[: i + 1]) == state
    if first_illegal is None:
        assert fold("p", steps) == state == fold("p", list(steps))  # deterministic
        return
    with pytest.raises(InvalidTransition) as caught:
        fold("p", steps)
    assert caught.value.step == steps[first_illegal].value
    assert caught.value.current == (None if state is None else state.value)
    with pytest.raises(InvalidTransition):  # and again: no hidden state between folds
        fold("p", steps)


# --- orders ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parcels", "expected"),
    [
        ([], None),
        (["packed"], None),
        (["packed", "consolidated", "export_held", "export_cleared"], None),
        (["packed", "departed"], O.SHIPPED),
        (["delivered", "out_for_delivery"], O.SHIPPED),
        (["delivered", "damaged"], O.SHIPPED),
        (["delivered", "delivered"], O.DELIVERED),
        (["delivered", "lost"], O.PARTLY_DELIVERED),
        (["returned", "delivered"], O.PARTLY_DELIVERED),
        (["returned", "returned"], O.RETURNED),
        (["returned", "lost"], O.LOST),
        (["lost"], O.LOST),
    ],
)
def test_order_status_from_parcels(parcels: list[str], expected: OrderStatus | None) -> None:
    assert order_status_from_parcels(parcels) == expected


def test_order_transitions() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert {O.LOST, O.RETURNED, O.CANCELLED} == ORDER_TERMINAL
    assert order_reachable(O.CAPTURED, O.DELIVERED)
    assert order_reachable(O.PLANNED, O.RETURNED)
    assert order_reachable(O.SHIPPED, O.SHIPPED)
    assert not order_reachable(O.DELIVERED, O.CAPTURED)
    assert not order_reachable(O.SHIPPED, O.CANCELLED)
    assert not order_reachable(O.DELIVERED, O.LOST)
    for end in ORDER_TERMINAL:
        assert all(not order_reachable(end, other) for other in set(OrderStatus) - {end})
    # whatever the parcels make of an order, a planned order can get there
    for made in {order_status_from_parcels([s]) for s in ParcelStatus} - {None}:
        assert made is not None and order_reachable(O.PLANNED, made)
