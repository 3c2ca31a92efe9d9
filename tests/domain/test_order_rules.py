from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import make_import_order, make_order
from xborder.domain.order_rules import OrderBatch, check_orders
from xborder.domain.orders import Address, Buyer, OrderLine
from xborder.services.capture import order_frames


def errors_of(batch: OrderBatch) -> list[tuple[str, str]]:
    return [(e["field"], e["reason"]) for e in check_orders(batch).errors.to_dicts()]


def test_a_valid_order_is_normalised_to_minor_units() -> None:
    checked = check_orders(order_frames([make_order()]))
    assert checked.errors.height == 0
    order = checked.orders.row(0, named=True)
    assert order["goods_minor"] == 2 * 999 + 450
    assert order["freight_minor"] == 390
    assert order["line_count"] == 2
    assert checked.lines.get_column("line_no").to_list() == [1, 2]
    assert checked.lines.get_column("origin_country").to_list() == ["CN", "CN"]


def test_import_order_with_resident_id_passes() -> None:
    assert check_orders(order_frames([make_import_order()])).errors.height == 0


def _line(**kw: object) -> OrderLine:
    base = {
        "sku": "X",
        "description": "thing",
        "hs_code": "610910",
        "qty": 1,
        "unit_price": Decimal("1.00"),
    }
    base.update(kw)
    return OrderLine(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("order", "field", "reason_part"),
    [
        (make_order(currency="EUX"), "currency", "ISO 4217"),
        (make_order(origin_country="XX"), "origin_country", "ISO 3166"),
        (make_order(lines=[_line(hs_code="12345")]), "hs_code", "6, 8 or 10 digits"),
        (make_order(lines=[_line(hs_code="999999")]), "hs_code", "HS 2022"),
        (make_order(lines=[_line(qty=0)]), "qty", "positive"),
        (make_order(lines=[_line(qty=-3)]), "qty", "positive"),
        (make_order(lines=[_line(unit_price=Decimal("1.001"))]), "unit_price", "decimal places"),
        (make_order(lines=[_line(unit_price=Decimal("-1"))]), "unit_price", "non-negative"),
        (make_order(currency="JPY", freight=Decimal("3.5")), "freight", "decimal places"),
        (make_import_order(buyer=Buyer(name="Li", telephone="1")), "buyer_id_number", "required"),
        (make_import_order(buyer=Buyer(name="Li", telephone="1", id_type="1",
                                       id_number="110105194912310021")),
         "buyer_id_number", "MOD 11-2"),
        (make_order(buyer=Buyer(name="", telephone="1")), "buyer_name", "required"),
        (make_order(discount=Decimal("1000")), "discount", "exceeds"),
        (make_order(promised_by=make_order().placed_at.date().replace(year=2025)), "promised_by",
         "before"),
        (make_order(consignee=Address(name="A", telephone="1", line1="x", city="Shenzhen",
                                      postcode="518000", country="CN")),
         "consignee_country", "another country"),
    ],
)  # fmt: skip
def test_bad_input_names_field_and_reason(order: object, field: str, reason_part: str) -> None:
    found = errors_of(order_frames([order]))  # type: ignore[list-item]
    assert any(f == field and reason_part in r for f, r in found), found


def test_an_order_with_one_bad_line_is_rejected_whole() -> None:
    good, bad = make_order("A"), make_order("B", lines=[_line(), _line(qty=0)])
    checked = check_orders(order_frames([good, bad]))
    assert checked.orders.get_column("external_id").to_list() == ["A"]
    assert set(checked.lines.get_column("rec").to_list()) == {0}
    assert checked.rejected.to_list() == [1]


def test_order_without_lines_and_orphan_lines_are_reported() -> None:
    batch = order_frames([make_order("A"), make_order("B")])
    lines = batch.lines.filter(pl.col("rec") == 0).with_columns(pl.lit(5, pl.Int64).alias("rec"))
    found = errors_of(OrderBatch(batch.orders, lines))
    assert ("lines", "an order needs at least one line") in found
    assert ("rec", "line belongs to no order") in found


def test_unknown_seller_is_rejected_when_sellers_are_known() -> None:
    checked = check_orders(order_frames([make_order()]), frozenset({"someone-else"}))
    assert checked.errors.get_column("field").to_list() == ["seller_id"]


prices = st.decimals(min_value=0, max_value=10**6, places=2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(prices, st.integers(1, 50), prices), min_size=1, max_size=12))
def test_batch_and_single_checks_agree(specs: list[tuple[Decimal, int, Decimal]]) -> None:
    """One implementation: a batch gives each order what the single-order call gives it."""
    orders = [
        make_order(f"O{i}", freight=freight, lines=[_line(qty=qty, unit_price=price)])
        for i, (price, qty, freight) in enumerate(specs)
    ]
    batch = check_orders(order_frames(orders)).orders.drop("rec", "line")
    singles = pl.concat(
        [check_orders(order_frames([o])).orders.drop("rec", "line") for o in orders]
    )
    assert batch.equals(singles)
    expected = [int(p * 100) * q for p, q, _ in specs]
    assert batch.get_column("goods_minor").to_list() == expected
