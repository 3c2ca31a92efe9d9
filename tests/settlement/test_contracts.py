"""Rate-card charges, columnar, agree exactly with the foundation's single-parcel rate cards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xborder.domain.errors import InvalidValue
from xborder.domain.money import FxRate, FxTable, Money
from xborder.domain.network import Lane, LastMileCarrier, Warehouse
from xborder.domain.values import Dimensions
from xborder.settlement.contracts import (
    STORED_CARD_SCHEMA,
    chargeable_weight,
    price_legs,
    rate_card_charges,
    rate_cards,
    stored_rate_cards,
    to_order_currency,
)

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


@given(st.integers(1, 40_000), st.integers(1, 20_000_000), st.sampled_from([0, 5000, 6000]),
       rates, rates, rates)  # fmt: skip
def test_chargeable_weight_prices_exactly_as_the_lane(
    gross_g: int, volume_dcm3: int, divisor: int, per_kg: Decimal, per_parcel: Decimal,
    minimum: Decimal,
) -> None:  # fmt: skip
    """The greater of gross and volumetric weight, as an exact fraction: what ``Lane.freight``
    charges for the parcel's size, to the minor unit."""
    ln = lane(per_kg, per_parcel, minimum).model_copy(update={"volumetric_divisor": divisor})
    num, den = chargeable_weight(pl.lit(gross_g), pl.lit(volume_dcm3), pl.lit(divisor))
    grams, grams_den = pl.select(num.alias("num"), den.alias("den")).row(0)
    dims = Dimensions(Decimal(volume_dcm3) / 10, Decimal(1), Decimal(1))
    assert Decimal(grams) / grams_den == ln.chargeable_kg(Decimal(gross_g) / 1000, dims) * 1000
    legs = pl.DataFrame({"order_id": [1], "role": ["lane"], "ref": ["l1"], "grams": [grams],
                         "grams_den": [grams_den]})  # fmt: skip
    priced = price_legs(legs, rate_cards([ln], [], []))["partner_amount"].item()
    assert priced == ln.freight(Decimal(gross_g) / 1000, dims).minor


def test_stored_cards_price_as_the_world_cards() -> None:
    ln, lm = (
        lane(Decimal("52.00"), Decimal("65.00"), Decimal("100.00")),
        carrier(Decimal("4.10"), Decimal("0.25")),
    )
    stored = pl.DataFrame(
        [("lane", "l1", "lp-x", "CNY", 5200, 6500, 10000, 6000),
         ("warehouse", "w1", "wh-z", "CNY", 0, 235, 0, 0),
         ("last_mile", "m1", "lm-y", "EUR", 25, 410, 0, 0)],
        schema=STORED_CARD_SCHEMA, orient="row",
    )  # fmt: skip
    assert stored_rate_cards(stored).equals(rate_cards([ln], [WAREHOUSE], [lm]))


def test_conversion_to_the_order_currency_is_the_dated_fx_rate_rounded_once() -> None:
    fx = FxTable.of([
        FxRate(date(2026, 1, 5), "EUR", "CNY", Decimal("8.2000")),
        FxRate(date(2026, 11, 23), "EUR", "CNY", Decimal("8.2180")),
        FxRate(date(2026, 11, 23), "JPY", "CNY", Decimal("0.046200")),
    ])  # fmt: skip
    charges = pl.DataFrame({
        "partner_amount": [450, 450, 15860, 35000, 410],
        "partner_currency": ["CNY", "CNY", "CNY", "JPY", "EUR"],
        "currency": ["EUR", "EUR", "EUR", "EUR", "EUR"],
        "on": [date(2026, 11, 1), date(2026, 11, 25), date(2026, 11, 25), date(2026, 11, 25),
               date(2026, 11, 25)],
    })  # fmt: skip
    got = to_order_currency(charges, fx)["amount"].to_list()
    expected = [
        Money(fx.convert(Money.from_minor(a, pc), oc, on).amount, oc).minor if pc != oc else a
        for a, pc, oc, on in charges.rows()
    ]
    # 4.50 CNY at 8.20 and at 8.218; 35,000 JPY (no minor unit) through CNY: 196.76 EUR
    assert got == expected == [55, 55, 1930, 19676, 410]
