"""Generate a realistic day of orders from a world's demand, columnar and reproducible by seed.

Markets are drawn by their demand share; each order comes from one seller whose products may be
sold there (export markets buy from CN sellers, CN buys from overseas sellers); prices are the
sellers' list prices converted at the world's dated FX rates into the buyer's currency. Orders
into China carry a buyer identity with a valid resident identity card number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import polars as pl

from xborder.domain.money import minor_units
from xborder.domain.order_rules import OrderBatch
from xborder.domain.orders import BuyerIdType, Direction
from xborder.domain.world import World

MAX_LINES = 6
_FIRST = (
    "Alex",
    "Sam",
    "Maria",
    "Jonas",
    "Chloé",
    "Lucía",
    "Oliver",
    "Yuki",
    "Wei",
    "Min",
    "Emma",
    "Noah",
    "Li Na",
    "Hiroshi",
    "Sofia",
    "Lukas",
    "Camille",
    "Javier",
    "Amelia",
    "Jin",
)
_LAST = (
    "Müller",
    "Martin",
    "García",
    "Smith",
    "Sato",
    "Wang",
    "Kim",
    "Schmidt",
    "Dubois",
    "López",
    "Brown",
    "Suzuki",
    "Zhang",
    "Lee",
    "Fischer",
    "Bernard",
    "Jones",
    "Chen",
)
_STREETS = (
    "Main Street",
    "Hauptstraße",
    "Rue de la Paix",
    "Calle Mayor",
    "High Street",
    "Chuo-dori",
    "Renmin Road",
    "Market Street",
    "Bahnhofstraße",
    "Avenue Victor Hugo",
)
_CN_REGIONS = ("410102", "410105", "440305", "440106", "330106", "310115", "110105", "510107")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


@dataclass(frozen=True, slots=True)
class _Catalog:
    """Products sorted by seller, with each seller's slice and list prices per buyer currency."""

    skus: np.ndarray
    names: np.ndarray
    hs_codes: np.ndarray
    origins: np.ndarray
    seller_ids: np.ndarray
    seller_start: np.ndarray
    seller_count: np.ndarray
    seller_origin: np.ndarray
    price_minor: dict[str, np.ndarray]


def _catalog(world: World, currencies: set[str], on: date) -> _Catalog:
    products = sorted(world.products, key=lambda p: (p.seller, p.sku))
    fx = world.fx_table()
    sellers = sorted({p.seller for p in products})
    seller_of = np.array([sellers.index(p.seller) for p in products])
    start = np.searchsorted(seller_of, np.arange(len(sellers)))
    count = np.bincount(seller_of, minlength=len(sellers))
    prices = {}
    for currency in currencies:
        quantum = Decimal(1).scaleb(-minor_units(currency))
        prices[currency] = np.array([
            int(fx.convert(p.price, currency, on).amount.quantize(quantum, ROUND_HALF_UP)
                .scaleb(minor_units(currency)))
            for p in products
        ], dtype=np.int64)  # fmt: skip
    origin_of_seller = np.array(
        [next(p.origin for p in products if p.seller == s) for s in sellers]
    )
    return _Catalog(
        skus=np.array([p.sku for p in products]), names=np.array([p.name for p in products]),
        hs_codes=np.array([p.hs_code for p in products]),
        origins=np.array([p.origin for p in products]), seller_ids=np.array(sellers),
        seller_start=start, seller_count=count, seller_origin=origin_of_seller,
        price_minor=prices,
    )  # fmt: skip


def _amount_text(minor: pl.Expr, digits: pl.Expr) -> pl.Expr:
    """Integer minor units -> exact decimal text (``1234``, 2 -> ``12.34``; JPY stays whole)."""
    scale = pl.lit(10, pl.Int64).pow(digits)
    whole = (minor // scale).cast(pl.String)
    frac = (minor % scale).cast(pl.String).str.zfill(digits.cast(pl.Int64))
    return pl.when(digits == 0).then(whole).otherwise(pl.concat_str(whole, pl.lit("."), frac))


def _buyer_account(id_number: str) -> str:
    """The login a China buyer registered with on the platform (stored as ``buyer_email``)."""
    return f"u{hashlib.sha256(id_number.encode()).hexdigest()[:12]}@buyers.example"


def _resident_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    if n == 0:  # no order into China in this batch (small batches)
        return np.array([], dtype="U18")
    region = rng.choice(np.array(_CN_REGIONS), n)
    birth = np.datetime64("1965-01-01") + rng.integers(0, 365 * 40, n).astype("timedelta64[D]")
    body = np.char.add(np.char.add(region, np.datetime_as_string(birth).astype("U10")), "")
    body = np.char.replace(body, "-", "")
    seq = np.char.zfill(rng.integers(0, 1000, n).astype(str), 3)
    seventeen = np.char.add(body, seq)
    digits = np.frombuffer("".join(seventeen.tolist()).encode(), dtype=np.uint8).reshape(n, 17) - 48
    check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(seventeen, check)


def generate_orders(world: World, n: int, seed: int = 0, day: date | None = None) -> OrderBatch:
    """``n`` orders placed on ``day`` (default: the world's ``valid_on``), as a kernel batch."""
    rng = np.random.default_rng(seed)
    day = day or world.meta.valid_on
    markets = world.demand
    if not markets:
        raise ValueError("the world has no demand to generate orders from")
    catalog = _catalog(world, {m.currency for m in markets}, day)
    market = rng.choice(
        len(markets), n, p=np.array([m.share for m in markets]) / sum(m.share for m in markets)
    )

    # One seller per order, among the sellers allowed to sell into the market.
    seller = np.empty(n, dtype=np.int64)
    for i, m in enumerate(markets):
        rows = np.flatnonzero(market == i)
        allowed = np.flatnonzero(
            catalog.seller_origin == "CN"
            if m.direction == Direction.EXPORT
            else catalog.seller_origin != m.country
        )
        seller[rows] = rng.choice(allowed, rows.size)

    mean_lines = np.array([m.mean_lines for m in markets])[market]
    lines_per_order = np.minimum(1 + rng.poisson(mean_lines - 1), MAX_LINES)
    order_of_line = np.repeat(np.arange(n), lines_per_order)
    line_seller = seller[order_of_line]
    pick = (rng.random(order_of_line.size) ** 1.6 * catalog.seller_count[line_seller]).astype(
        np.int64
    )
    product = catalog.seller_start[line_seller] + pick
    b2b = rng.random(n) < np.array([m.b2b_share for m in markets])[market]
    qty = np.where(b2b[order_of_line], rng.integers(10, 200, order_of_line.size),
                   1 + rng.geometric(0.75, order_of_line.size) - 1)  # fmt: skip

    currency = np.array([m.currency for m in markets])[market]
    unit_minor = np.zeros(order_of_line.size, dtype=np.int64)
    for code, prices in catalog.price_minor.items():
        mask = currency[order_of_line] == code
        unit_minor[mask] = prices[product[mask]]
    digits = np.array([minor_units(c) for c in currency])
    free_shipping = rng.random(n) < 0.55
    freight_minor = np.where(
        free_shipping, 0, (rng.uniform(2, 9, n) * 10.0**digits).round()
    ).astype(np.int64)

    seconds = np.clip(rng.normal(13.5 * 3600, 4.5 * 3600, n), 0, 86399).astype(np.int64)
    placed = (np.datetime64(day.isoformat(), "s") + seconds.astype("timedelta64[s]")).astype(
        "datetime64[us]"
    )
    promise = np.array([m.promise_days for m in markets])[market]
    city_pick = (rng.random(n) * np.array([len(m.cities) for m in markets])[market]).astype(
        np.int64
    )
    city_name = np.empty(n, dtype=object)
    postcode = np.empty(n, dtype=object)
    for i, m in enumerate(markets):
        rows = np.flatnonzero(market == i)
        city_name[rows] = np.array([c.city for c in m.cities], dtype=object)[city_pick[rows]]
        postcode[rows] = np.array([c.postcode for c in m.cities], dtype=object)[city_pick[rows]]
    channel = np.empty(n, dtype=object)
    for i, m in enumerate(markets):
        rows = np.flatnonzero(market == i)
        channel[rows] = np.array(m.channels, dtype=object)[
            rng.integers(0, len(m.channels), rows.size)
        ]

    country = np.array([m.country for m in markets])[market]
    into_cn = country == "CN"
    needs_id = into_cn | b2b
    id_numbers = np.full(n, None, dtype=object)
    id_numbers[into_cn] = _resident_ids(rng, int(into_cn.sum()))
    other = needs_id & ~into_cn
    id_numbers[other] = np.char.add("VAT", rng.integers(10**8, 10**9, int(other.sum())).astype(str))
    # the buyer's account on the selling platform (CEB311 buyerRegNo), one per buyer: derived from
    # the identity number, so no random draw is added and every other column stays as it was
    accounts = np.full(n, None, dtype=object)
    accounts[into_cn] = [_buyer_account(str(i)) for i in id_numbers[into_cn]]
    id_types = np.full(n, None, dtype=object)
    id_types[needs_id] = BuyerIdType.OTHER.value
    id_types[into_cn] = BuyerIdType.RESIDENT_ID.value
    names = np.char.add(np.char.add(np.array(_FIRST)[rng.integers(0, len(_FIRST), n)], " "),
                        np.array(_LAST)[rng.integers(0, len(_LAST), n)])  # fmt: skip
    phone = np.char.add("+", rng.integers(10**10, 10**11, n).astype(str))
    origin = np.where(np.array([m.direction == Direction.EXPORT for m in markets])[market], "CN",
                      catalog.seller_origin[seller])  # fmt: skip

    orders = pl.DataFrame({
        "rec": np.arange(n, dtype=np.int64),
        "channel": channel.astype(str),
        "seq": np.arange(1, n + 1, dtype=np.int64) + seed * 10_000_000,
        "seller_id": catalog.seller_ids[seller],
        "platform_id": np.array([m.platform for m in markets])[market],
        "trade_mode": np.where(b2b, "B2B", "B2C"),
        "direction": np.array([m.direction.value for m in markets])[market],
        "incoterm": np.array([m.incoterm.value for m in markets])[market],
        "currency": currency,
        "origin_country": origin,
        "buyer_name": names,
        "buyer_telephone": phone,
        "buyer_id_type": pl.Series(id_types.tolist(), dtype=pl.String),
        "buyer_id_number": pl.Series(id_numbers.tolist(), dtype=pl.String),
        "buyer_email": pl.Series(accounts.tolist(), dtype=pl.String),
        "consignee_city": city_name.astype(str),
        "consignee_postcode": postcode.astype(str),
        "consignee_country": country,
        "street_no": rng.integers(1, 300, n),
        "street": np.array(_STREETS)[rng.integers(0, len(_STREETS), n)],
        "freight_minor": freight_minor,
        "digits": digits,
        "placed_at": placed,
        "promise": promise,
    })  # fmt: skip
    seq = pl.col("seq").cast(pl.String).str.zfill(9)
    placed_at = pl.col("placed_at").dt.replace_time_zone("UTC")
    promised = pl.col("placed_at").dt.date() + pl.duration(days=pl.col("promise"))
    orders = orders.with_columns(
        pl.concat_str(pl.col("channel"), pl.lit(f"-{day:%Y%m%d}-"), seq).alias("external_id"),
        pl.col("buyer_name").alias("consignee_name"),
        pl.col("buyer_telephone").alias("consignee_telephone"),
        pl.concat_str(pl.col("street_no").cast(pl.String), pl.lit(" "), pl.col("street")).alias(
            "consignee_line1"
        ),
        _amount_text(pl.col("freight_minor"), pl.col("digits")).alias("freight"),
        pl.lit("0").alias("insurance"),
        pl.lit("0").alias("discount"),
        placed_at.dt.strftime("%Y-%m-%dT%H:%M:%S%:z").alias("placed_at"),
        promised.dt.strftime("%Y-%m-%d").alias("promised_by"),
    ).drop("seq", "street_no", "street", "freight_minor", "promise")

    lines = pl.DataFrame({
        "rec": order_of_line.astype(np.int64),
        "sku": catalog.skus[product],
        "description": catalog.names[product],
        "hs_code": catalog.hs_codes[product],
        "qty": qty.astype(np.int64),
        "unit_minor": unit_minor,
        "digits": digits[order_of_line],
        "origin_country": catalog.origins[product],
    }).with_columns(
        pl.col("qty").cast(pl.String),
        _amount_text(pl.col("unit_minor"), pl.col("digits")).alias("unit_price"),
    ).drop("unit_minor", "digits")  # fmt: skip
    return OrderBatch(orders.drop("digits"), lines)
