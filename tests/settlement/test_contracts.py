"""Rate-card charges, columnar, agree exactly with the foundation's single-parcel rate cards."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xborder.domain.errors import InvalidValue
from xborder.domain.network import Lane, LastMileCarrier, Warehouse
from xborder.settlement.contracts import rate_card_charges

rates = st.decimals(min_value=0, max_value=500, places=3)


def lane(per_kg: Decimal, per_parcel: Decimal, minimum: Decimal, currency: str = "CNY") -> Lane:
    return Lane(
        id="l1", name="SZX-FRA air", mode="air", carrier="lp-x", origin_hub="h1",
        dest_country="DE", per_kg=per_kg, per_parcel=per_parcel, minimum=minimum,
        currency=currency, volumetric_divisor=6000, transit_mean_days=5, transit_p95_days=8,
        daily_capacity_kg=1000, departure_days=("Mon",), cutoff="18:00", loss_rate=0.001,
        damage_rate=0.002,
    )  # fmt: skip


def carrier(per_parcel: Decimal, per_kg: Decimal) -> LastMileCarrier:
    return LastMileCarrier(
        id="m1", name="DE parcel", carrier="lm-y", country="DE", per_parcel=per_parcel,
        per_kg=per_kg, currency="EUR", transit_mean_days=1, transit_p95_days=3, on_time_rate=0.9,
        first_attempt_rate=0.9, damage_rate=0.001, loss_rate=0.001,
    )  # fmt: skip


WAREHOUSE = Warehouse(id="w1", name="SZ", kind="domestic", country="CN", operator="wh-z",
                      capacity_units=100, handling_per_order=Decimal("2.35"),
                      handling_currency="CNY")  # fmt: skip


@given(rates, rates, rates, rates, rates, st.lists(st.integers(0, 40_000), min_size=1, max_size=8))
def test_columnar_charges_equal_the_rate_cards(
    per_kg: Decimal,
    per_parcel: Decimal,
    minimum: Decimal,
    lm_parcel: Decimal,
    lm_kg: Decimal,
    grams: list[int],
) -> None:
    ln, lm = lane(per_kg, per_parcel, minimum), carrier(lm_parcel, lm_kg)
    legs = pl.DataFrame({
        "order_id": list(range(len(grams))) * 3,
        "role": ["lane"] * len(grams) + ["last_mile"] * len(grams) + ["warehouse"] * len(grams),
        "ref": ["l1"] * len(grams) + ["m1"] * len(grams) + ["w1"] * len(grams),
        "grams": grams * 3,
    })  # fmt: skip
    got = rate_card_charges(legs, [ln], [WAREHOUSE], [lm])["partner_amount"].to_list()
    kg = [Decimal(g) / 1000 for g in grams]
    expected = ([ln.freight(k).minor for k in kg] + [lm.cost(k).minor for k in kg]
                + [WAREHOUSE.handling.minor] * len(grams))  # fmt: skip
    assert got == expected


def test_unknown_partner_and_bad_weight_are_named() -> None:
    legs = pl.DataFrame({"order_id": [7], "role": ["lane"], "ref": ["nope"], "grams": [100]})
    with pytest.raises(InvalidValue) as unknown:
        rate_card_charges(legs, [], [], [])
    assert unknown.value.field == "order 7.ref"
    with pytest.raises(InvalidValue) as weight:
        rate_card_charges(legs.with_columns(pl.lit(-1).alias("grams")), [], [], [])
    assert weight.value.field == "order 7.grams"
    with pytest.raises(InvalidValue):
        rate_card_charges(legs.with_columns(pl.lit("ship").alias("role")), [], [], [])
