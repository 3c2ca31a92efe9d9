"""Partner charges from the foundation's rate cards, columnar and exact.

A leg of an order's trip is served by a partner under its contract: a lane (line haul: per kg on
the chargeable weight plus per parcel, not below the minimum), a warehouse (handling per order) or
a last-mile carrier (per parcel plus per kg). Rates are exact decimals; here they become integers
in millionths of a minor unit and weights integers in grams, so a whole frame of legs is priced
with integer arithmetic and rounded half-up once, giving exactly what ``Lane.freight``,
``Warehouse.handling`` and ``LastMileCarrier.cost`` give for one parcel.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.domain.money import minor_units
from xborder.domain.network import Lane, LastMileCarrier, Warehouse

MICRO = 10**6  # rates are kept in millionths of a minor unit
ROLES = ("lane", "warehouse", "last_mile")


def _micro(rate: Decimal, currency: str, what: str) -> int:
    scaled = rate.scaleb(minor_units(currency)) * MICRO
    if scaled != scaled.to_integral_value():
        raise InvalidValue(what, "rate has more decimals than a millionth of a minor unit",
                           str(rate))  # fmt: skip
    return int(scaled)


def _cards(
    lanes: Sequence[Lane], warehouses: Sequence[Warehouse], last_mile: Sequence[LastMileCarrier]
) -> pl.DataFrame:
    rows = [
        ("lane", x.id, x.carrier, x.currency, _micro(x.per_kg, x.currency, f"lane {x.id}.per_kg"),
         _micro(x.per_parcel, x.currency, f"lane {x.id}.per_parcel"),
         _micro(x.minimum, x.currency, f"lane {x.id}.minimum"))
        for x in lanes
    ] + [
        ("warehouse", x.id, x.operator, x.handling_currency, 0,
         _micro(x.handling_per_order, x.handling_currency, f"warehouse {x.id}.handling"), 0)
        for x in warehouses
    ] + [
        ("last_mile", x.id, x.carrier, x.currency,
         _micro(x.per_kg, x.currency, f"last_mile {x.id}.per_kg"),
         _micro(x.per_parcel, x.currency, f"last_mile {x.id}.per_parcel"), 0)
        for x in last_mile
    ]  # fmt: skip
    schema = {"role": pl.String, "ref": pl.String, "partner": pl.String,
              "partner_currency": pl.String, "per_kg": pl.Int64, "per_parcel": pl.Int64,
              "minimum": pl.Int64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def rate_card_charges(
    legs: pl.DataFrame, lanes: Sequence[Lane], warehouses: Sequence[Warehouse],
    last_mile: Sequence[LastMileCarrier],
) -> pl.DataFrame:  # fmt: skip
    """``legs``: order_id, role (lane | warehouse | last_mile), ref (the lane, warehouse or
    carrier id), grams (chargeable weight). Returns order_id, partner, role, partner_currency,
    partner_amount (minor units of the contract currency)."""
    bad_role = legs.filter(~pl.col("role").is_in(ROLES))
    if bad_role.height:
        raise InvalidValue("role", f"must be one of {ROLES}", bad_role["role"][0])
    bad_weight = legs.filter(pl.col("grams").is_null() | (pl.col("grams") < 0))
    if bad_weight.height:
        raise InvalidValue(f"order {bad_weight['order_id'][0]}.grams", "must be >= 0",
                           bad_weight["grams"][0])  # fmt: skip
    priced = legs.join(_cards(lanes, warehouses, last_mile), on=["role", "ref"], how="left")
    unknown = priced.filter(pl.col("partner").is_null())
    if unknown.height:
        raise InvalidValue(f"order {unknown['order_id'][0]}.ref",
                           f"no {unknown['role'][0]} with this id", unknown["ref"][0])  # fmt: skip
    # numerator in (millionths of a minor unit) x (grams): per_kg * g + (per_parcel * 1000)
    numerator = pl.max_horizontal(
        pl.col("per_kg") * pl.col("grams") + pl.col("per_parcel") * 1000,
        pl.col("minimum") * 1000,
    )
    denominator = MICRO * 1000
    return priced.select(
        pl.col("order_id").cast(pl.Int64), "partner", "role", "partner_currency",
        ((numerator * 2 + denominator) // (2 * denominator)).alias("partner_amount"),
    )  # fmt: skip
