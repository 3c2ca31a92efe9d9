"""Property: what is captured reads back exactly (money as Decimal in the currency's minor unit)."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.factories import make_order
from xborder.domain.money import minor_units
from xborder.domain.orders import OrderLine
from xborder.services.capture import capture_order
from xborder.services.queries import show_order
from xborder.store.uow import UnitOfWork


@st.composite
def orders(draw: st.DrawFn) -> tuple[str, list[tuple[int, Decimal]], Decimal]:
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD", "USD", "CNY"]))
    places = minor_units(currency)
    money = st.decimals(min_value=0, max_value=10**7, places=places, allow_nan=False)
    lines = draw(st.lists(st.tuples(st.integers(1, 500), money), min_size=1, max_size=6))
    return currency, lines, draw(money)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(orders())
def test_capture_reads_back_exactly(
    sqlite_engine: Engine, spec: tuple[str, list[tuple[int, Decimal]], Decimal]
) -> None:
    currency, lines, freight = spec
    order = make_order(
        currency=currency,
        freight=freight,
        lines=[
            OrderLine(sku=f"S{i}", description="item", hs_code="610910", qty=q, unit_price=p)
            for i, (q, p) in enumerate(lines)
        ],
    )
    with UnitOfWork(sqlite_engine) as uow:
        order_id = capture_order(uow, order).order_id
        uow.commit()
    view = show_order(UnitOfWork(sqlite_engine), order_id)
    assert view.order["freight"].amount == freight
    assert view.order["goods"].amount == sum((p * q for q, p in lines), Decimal(0))
    assert [line["unit_price"].amount for line in view.lines] == [p for _, p in lines]
    assert [line["qty"] for line in view.lines] == [q for q, _ in lines]
    with UnitOfWork(sqlite_engine) as uow:  # clean up for the next example
        uow.connection.exec_driver_sql("DELETE FROM order_lines")
        uow.connection.exec_driver_sql("DELETE FROM orders")
        uow.commit()
