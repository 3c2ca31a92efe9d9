"""Partner charges from the foundation's rate cards, columnar and exact.

A leg of an order's trip is served by a partner under its contract: a lane (line haul: per kg on
the chargeable weight plus per parcel, not below the minimum), a warehouse (handling per order) or
a last-mile carrier (per parcel plus per kg). Rates are exact decimals; here they become integers
in millionths of a minor unit and weights integers in grams, so a whole frame of legs is priced
with integer arithmetic and rounded half-up once, giving exactly what ``Lane.freight``,
``Warehouse.handling`` and ``LastMileCarrier.cost`` give for one parcel.

The cards come from the world (exact decimals) or from the store (whole minor units, as the world
was loaded): both become the same card frame, priced by the same kernel. A charge in another
currency than the order's is converted with ``to_order_currency`` at the dated FX rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.domain.money import FxTable, minor_units
from xborder.domain.network import Lane, LastMileCarrier, Warehouse

MICRO = 10**6  # rates are kept in millionths of a minor unit
ROLES = ("lane", "warehouse", "last_mile")
CARD_SCHEMA: dict[str, Any] = {
    "role": pl.String, "ref": pl.String, "partner": pl.String, "partner_currency": pl.String,
    "per_kg": pl.Int64, "per_parcel": pl.Int64, "minimum": pl.Int64, "divisor": pl.Int64,
}  # fmt: skip
# what the store keeps (``SettlementFactsRepository.rate_cards``): whole minor units
STORED_CARD_SCHEMA: dict[str, Any] = {
    "role": pl.String, "ref": pl.String, "partner": pl.String, "partner_currency": pl.String,
    "per_kg_minor": pl.Int64, "per_parcel_minor": pl.Int64, "minimum_minor": pl.Int64,
    "divisor": pl.Int64,
}  # fmt: skip


def _micro(rate: Decimal, currency: str, what: str) -> int:
    scaled = rate.scaleb(minor_units(currency)) * MICRO
    if scaled != scaled.to_integral_value():
        raise InvalidValue(what, "rate has more decimals than a millionth of a minor unit",
                           str(rate))  # fmt: skip
    return int(scaled)


def rate_cards(
    lanes: Sequence[Lane], warehouses: Sequence[Warehouse], last_mile: Sequence[LastMileCarrier]
) -> pl.DataFrame:
    """The world's contracts as one card frame (CARD_SCHEMA, millionths of a minor unit)."""
    rows = [
        ("lane", x.id, x.carrier, x.currency, _micro(x.per_kg, x.currency, f"lane {x.id}.per_kg"),
         _micro(x.per_parcel, x.currency, f"lane {x.id}.per_parcel"),
         _micro(x.minimum, x.currency, f"lane {x.id}.minimum"), x.volumetric_divisor)
        for x in lanes
    ] + [
        ("warehouse", x.id, x.operator, x.handling_currency, 0,
         _micro(x.handling_per_order, x.handling_currency, f"warehouse {x.id}.handling"), 0, 0)
        for x in warehouses
    ] + [
        ("last_mile", x.id, x.carrier, x.currency,
         _micro(x.per_kg, x.currency, f"last_mile {x.id}.per_kg"),
         _micro(x.per_parcel, x.currency, f"last_mile {x.id}.per_parcel"), 0, 0)
        for x in last_mile
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=CARD_SCHEMA, orient="row")


def stored_rate_cards(stored: pl.DataFrame) -> pl.DataFrame:
    """Cards kept in the store in whole minor units (STORED_CARD_SCHEMA) as a card frame."""
    return stored.select(
        "role", "ref", "partner", "partner_currency",
        *[(pl.col(f"{c}_minor") * MICRO).alias(c) for c in ("per_kg", "per_parcel", "minimum")],
        pl.col("divisor").fill_null(0),
    ).cast(CARD_SCHEMA)  # type: ignore[arg-type]  # fmt: skip


def chargeable_weight(
    gross_grams: pl.Expr, volume_dcm3: pl.Expr, divisor: pl.Expr
) -> tuple[pl.Expr, pl.Expr]:
    """Carriers bill the greater of actual and volumetric weight (volume / divisor, in kg), as
    an exact fraction of grams: (numerator, denominator) for the legs' ``grams`` and
    ``grams_den``. ``volume_dcm3``: the volume in tenths of a cm3 (the store keeps one decimal),
    so the volumetric weight is ``volume_dcm3 * 100 / divisor`` grams."""
    volumetric = divisor > 0
    numerator = pl.when(volumetric).then(
        pl.max_horizontal(gross_grams * divisor, volume_dcm3 * 100)
    ).otherwise(gross_grams)  # fmt: skip
    return numerator.cast(pl.Int64), pl.when(volumetric).then(divisor).otherwise(1).cast(pl.Int64)


def price_legs(legs: pl.DataFrame, cards: pl.DataFrame) -> pl.DataFrame:
    """``legs``: order_id, role (lane | warehouse | last_mile), ref (the lane, warehouse or
    carrier id), grams (chargeable weight; with an optional ``grams_den`` it is the exact fraction
    grams / grams_den); other columns are kept. Adds partner, partner_currency, partner_amount
    (minor units of the contract currency), computed in 128-bit integers and rounded once."""
    if "grams_den" not in legs.columns:
        legs = legs.with_columns(pl.lit(1, pl.Int64).alias("grams_den"))
    bad_role = legs.filter(~pl.col("role").is_in(ROLES))
    if bad_role.height:
        raise InvalidValue("role", f"must be one of {ROLES}", bad_role["role"][0])
    bad_weight = legs.filter(pl.col("grams").is_null() | (pl.col("grams") < 0))
    if bad_weight.height:
        raise InvalidValue(f"order {bad_weight['order_id'][0]}.grams", "must be >= 0",
                           bad_weight["grams"][0])  # fmt: skip
    priced = legs.join(cards.drop("divisor"), on=["role", "ref"], how="left")
    unknown = priced.filter(pl.col("partner").is_null())
    if unknown.height:
        raise InvalidValue(f"order {unknown['order_id'][0]}.ref",
                           f"no {unknown['role'][0]} with this id", unknown["ref"][0])  # fmt: skip
    # in (millionths of a minor unit) x (grams) x den: per_kg * g + per_parcel * 1000 * den
    wide = pl.Int128
    den = pl.col("grams_den").cast(wide)
    numerator = pl.max_horizontal(
        pl.col("per_kg").cast(wide) * pl.col("grams") + pl.col("per_parcel") * 1000 * den,
        pl.col("minimum").cast(wide) * 1000 * den,
    )
    denominator = den * (MICRO * 1000)
    return priced.with_columns(
        pl.col("order_id").cast(pl.Int64),
        ((numerator * 2 + denominator) // (2 * denominator)).cast(pl.Int64)
        .alias("partner_amount"),
    ).drop("per_kg", "per_parcel", "minimum", "grams_den")  # fmt: skip


def rate_card_charges(
    legs: pl.DataFrame, lanes: Sequence[Lane], warehouses: Sequence[Warehouse],
    last_mile: Sequence[LastMileCarrier],
) -> pl.DataFrame:  # fmt: skip
    """``legs``: order_id, role, ref, grams. Returns order_id, partner, role, partner_currency,
    partner_amount (minor units of the contract currency), priced by the world's cards."""
    priced = price_legs(legs.select("order_id", "role", "ref", "grams"),
                        rate_cards(lanes, warehouses, last_mile))  # fmt: skip
    return priced.select("order_id", "partner", "role", "partner_currency", "partner_amount")


def to_order_currency(charges: pl.DataFrame, fx: FxTable) -> pl.DataFrame:
    """Adds ``amount``: ``partner_amount`` (minor units of ``partner_currency``) in the order's
    ``currency`` at the rate in force on ``on`` (a date column), rounded half-up once.

    Exact Decimal arithmetic, once per distinct (amount, currencies, day): a frame of a million
    charges has far fewer distinct ones, and the same charge converts the same way everywhere."""
    keys = ("partner_amount", "partner_currency", "currency", "on")
    other = charges.filter(pl.col("partner_currency") != pl.col("currency"))
    distinct = other.select(keys).unique()
    rates: dict[tuple[str, str, date], Decimal] = {}
    amounts: list[int] = []
    for minor, source, target, on in distinct.iter_rows():
        rate = rates.get((source, target, on))
        if rate is None:
            rate = rates.setdefault((source, target, on), fx.rate(source, target, on))
        value = Decimal(int(minor)).scaleb(minor_units(target) - minor_units(source)) * rate
        amounts.append(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    converted = distinct.with_columns(pl.Series("amount", amounts, dtype=pl.Int64))
    return charges.join(converted, on=list(keys), how="left").with_columns(
        pl.when(pl.col("partner_currency") == pl.col("currency"))
        .then(pl.col("partner_amount")).otherwise(pl.col("amount")).cast(pl.Int64).alias("amount")
    )  # fmt: skip
