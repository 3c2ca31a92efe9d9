"""Quote requests (JSON objects) into the kernel's frames, and kernel rows back into JSON.

A request: ``date``, ``origin``, ``destination``, ``incoterm``, ``currency``, ``freight``,
``insurance``, optional ``customs_mode``, ``buyer_id``, ``buyer_annual_total_before`` (CNY),
``fx`` (1 order currency = fx tax currency) and ``lines`` with ``hs_code``, ``description``,
``qty``, ``unit_price`` and optional ``duty_rate``, ``vat_rate``, ``consumption_tax_rate``,
``high_end``. Every bad value raises ``InvalidValue`` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from xborder.customs.cbec_china import MODES
from xborder.customs.explain import FxUsed, explain, with_kernel_columns
from xborder.customs.quote_kernel import (
    LINE_SCHEMA,
    OPTIONAL_ORDER_SCHEMA,
    ORDER_SCHEMA,
    QuoteResult,
    with_reason_text,
)
from xborder.customs.regimes import applied_rules, regime_of, sources
from xborder.domain.errors import InvalidValue
from xborder.domain.money import Money, currency_code, minor_units, to_decimal
from xborder.domain.orders import Incoterm
from xborder.domain.values import check_country, check_hs_code

# How the parcel travels, where a regime's threshold depends on it (Canada: CUSMA courier
# thresholds apply to courier shipments only).
TRANSPORTS = ("courier", "post")
REQUEST_FIELDS = frozenset(
    {
        "date",
        "origin",
        "destination",
        "incoterm",
        "currency",
        "freight",
        "insurance",
        "customs_mode",
        "buyer_id",
        "buyer_annual_total_before",
        "fx",
        "region",
        "transport",
        "lines",
        "id",
        "order_no",
    }
)
LINE_FIELDS = frozenset(
    {
        "hs_code",
        "description",
        "qty",
        "unit_price",
        "duty_rate",
        "vat_rate",
        "consumption_tax_rate",
        "high_end",
        "sku",
    }
)
# Bounds of a quote request (docs/customs.md): every amount, each line's value (qty x unit price)
# and the order's goods + freight + insurance stay below MAX_MINOR minor units (10 trillion in a
# two-decimal currency), so the kernel's int64 sums and its exact recomputation stay exact;
# a line's quantity is at most MAX_QTY pieces; an FX rate is at most MAX_FX.
MAX_MINOR = 10**15
MAX_QTY = 10**9
MAX_FX = Decimal(10**6)


@dataclass(frozen=True, slots=True)
class Parsed:
    orders: pl.DataFrame
    lines: pl.DataFrame
    ids: list[Any]


def _minor(value: Any, currency: str, field: str) -> int:
    amount = to_decimal(value, field)
    if amount < 0:
        raise InvalidValue(field, "must be zero or more", value)
    digits = minor_units(currency)
    if amount >= Decimal(MAX_MINOR).scaleb(-digits):  # before quantize: 1e308 has no quantum
        largest = Money.from_minor(MAX_MINOR - 1, currency)
        raise InvalidValue(field, f"is too large (at most {largest})", value)
    if amount != amount.quantize(Decimal(1).scaleb(-digits)):
        raise InvalidValue(field, f"has more decimals than {currency} allows ({digits})", value)
    minor = int(amount.scaleb(digits))
    if minor >= MAX_MINOR:
        raise InvalidValue(field, "is too large", value)
    return minor


def _rate(value: Any, field: str) -> float | None:
    if value is None:
        return None
    rate = to_decimal(value, field)
    if not Decimal(0) <= rate <= Decimal(10):
        raise InvalidValue(field, "must be a fraction between 0 and 10 (0.13 = 13 %)", value)
    return float(rate)


def _date(value: Any, default: date) -> date:
    if value is None:
        return default
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidValue("date", "not an ISO date (YYYY-MM-DD)", value) from None


def parse_request(
    raw: Any, rec: int, default_date: date
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One request into an order row and line rows of the kernel's schemas."""
    if not isinstance(raw, Mapping):
        raise InvalidValue("order", "must be a JSON object", type(raw).__name__)
    unknown = sorted(set(raw) - REQUEST_FIELDS)
    if unknown:
        raise InvalidValue(unknown[0], "unknown field")
    for name in ("origin", "destination", "currency", "lines"):
        if raw.get(name) in (None, ""):
            raise InvalidValue(name, "is required")
    destination = check_country(raw["destination"], "destination")
    regime_of(destination)
    currency = currency_code(raw["currency"])
    incoterm = str(raw.get("incoterm") or "DAP").upper()
    if incoterm not in Incoterm.__members__:
        raise InvalidValue("incoterm", "must be DDP or DAP", raw.get("incoterm"))
    mode = raw.get("customs_mode")
    if mode is not None and str(mode) not in MODES:
        raise InvalidValue("customs_mode", f"must be one of {', '.join(sorted(MODES))}", mode)
    fx = raw.get("fx")
    fx_value = None
    if fx is not None:
        fx_dec = to_decimal(fx, "fx")
        if not Decimal(0) < fx_dec <= MAX_FX:
            raise InvalidValue("fx", f"must be positive and at most {MAX_FX}", fx)
        fx_value = float(fx_dec)
    before = raw.get("buyer_annual_total_before")
    region = raw.get("region")
    if region is not None and (not isinstance(region, str) or not 0 < len(region) <= 10):
        raise InvalidValue("region", "must be a province or state code (at most 10 letters)")
    transport = raw.get("transport")
    if transport is not None and transport not in TRANSPORTS:
        raise InvalidValue("transport", f"must be one of {', '.join(TRANSPORTS)}", transport)
    lines_raw = raw["lines"]
    if not isinstance(lines_raw, Sequence) or isinstance(lines_raw, str) or not lines_raw:
        raise InvalidValue("lines", "must be a non-empty list")
    order = {
        "rec": rec,
        "date": _date(raw.get("date"), default_date),
        "origin": check_country(raw["origin"], "origin"),
        "destination": destination,
        "incoterm": incoterm,
        "currency": currency,
        "fx": fx_value,
        "freight_minor": _minor(raw.get("freight", 0), currency, "freight"),
        "insurance_minor": _minor(raw.get("insurance", 0), currency, "insurance"),
        "customs_mode": None if mode is None else str(mode),
        "annual_before_minor": None
        if before is None
        else _minor(before, "CNY", "buyer_annual_total_before"),
        "region": None if region is None else region.strip().upper(),
        "transport": transport,
        "limit_fx": None,
    }
    lines: list[dict[str, Any]] = []
    for i, line in enumerate(lines_raw):
        where = f"lines[{i}]"
        if not isinstance(line, Mapping):
            raise InvalidValue(where, "must be a JSON object")
        unknown = sorted(set(line) - LINE_FIELDS)
        if unknown:
            raise InvalidValue(f"{where}.{unknown[0]}", "unknown field")
        qty = line.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise InvalidValue(f"{where}.qty", "must be a positive integer", qty)
        if qty > MAX_QTY:
            raise InvalidValue(f"{where}.qty", f"is too large (at most {MAX_QTY:,})", qty)
        if line.get("unit_price") is None:
            raise InvalidValue(f"{where}.unit_price", "is required")
        unit_minor = _minor(line["unit_price"], currency, f"{where}.unit_price")
        if qty * unit_minor >= MAX_MINOR:
            largest = Money.from_minor(MAX_MINOR - 1, currency)
            raise InvalidValue(where, f"qty x unit_price is too large (at most {largest})")
        lines.append(
            {
                "rec": rec,
                "line": i,
                "hs_code": check_hs_code(line.get("hs_code"), f"{where}.hs_code"),
                "qty": qty,
                "unit_minor": unit_minor,
                "duty_rate": _rate(line.get("duty_rate"), f"{where}.duty_rate"),
                "vat_rate": _rate(line.get("vat_rate"), f"{where}.vat_rate"),
                "ct_rate": _rate(line.get("consumption_tax_rate"), f"{where}.consumption_tax_rate"),
                "high_end": bool(line.get("high_end", False)),
            }
        )
        if lines[-1]["ct_rate"] is not None and lines[-1]["ct_rate"] >= 1:
            raise InvalidValue(
                f"{where}.consumption_tax_rate", "must be below 1", line.get("consumption_tax_rate")
            )
    total = sum(int(ln["qty"]) * int(ln["unit_minor"]) for ln in lines)
    total += int(str(order["freight_minor"])) + int(str(order["insurance_minor"]))
    if total >= MAX_MINOR:
        largest = Money.from_minor(MAX_MINOR - 1, currency)
        raise InvalidValue("lines", f"goods + freight + insurance is too large (at most {largest})")
    return order, lines


def frames(
    orders: list[dict[str, Any]], lines: list[dict[str, Any]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    schema = pl.Schema({**ORDER_SCHEMA, **OPTIONAL_ORDER_SCHEMA})
    return pl.DataFrame(orders, schema=schema), pl.DataFrame(lines, schema=LINE_SCHEMA)


def _money(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(Money.from_minor(int(minor), currency).amount)


def result_records(
    result: QuoteResult, fx: Mapping[int, FxUsed] | None = None
) -> list[dict[str, Any]]:
    """Kernel rows as JSON-ready dicts (amounts as exact decimal strings in the tax currency),
    each with its explanation (``customs.explain``): ``estimate``, ``fx`` (the rate used and its
    date, when the quote converted) and ``explanation`` (what decided each component, what was
    considered and did not apply). ``fx``: the rates used, by ``rec``, as the caller found them."""
    by_rec: dict[int, list[dict[str, Any]]] = {}
    for row in result.lines.iter_rows(named=True):
        by_rec.setdefault(row["rec"], []).append(row)
    explained = explain(result, fx)
    out = []
    for row in with_reason_text(with_kernel_columns(result.orders)).iter_rows(named=True):
        cur = row["tax_currency"]
        if row["error"] is not None or cur is None:
            out.append({"rec": row["rec"], "error": row["error"]})
            continue
        out.append(
            {
                "rec": row["rec"],
                "date": row["date"].isoformat(),
                "regime": row["regime"],
                "channel": row["channel"],
                "eligible": row["eligible"],
                "reason": row["reason"],
                "currency": cur,
                "goods": _money(row["goods_minor"], cur),
                "freight_insurance": _money(row["fi_minor"], cur),
                "customs_value": _money(row["customs_value_minor"], cur),
                "duty": _money(row["duty_minor"], cur),
                "additional_duty": _money(row["additional_duty_minor"], cur),
                "vat": _money(row["vat_minor"], cur),
                "consumption_tax": _money(row["ct_minor"], cur),
                "fees": _money(row["fees_minor"], cur),
                "total_tax": _money(row["total_tax_minor"], cur),
                "landed_cost": _money(row["landed_minor"], cur),
                "tax_payer": row["tax_payer"],
                "collected_at": row["collected_at"],
                "buyer_annual_total_after": _money(row["annual_after_minor"], "CNY")
                if row["regime"] == "CN"
                else None,
                "lines": [
                    {
                        "line": ln["line"],
                        "hs_code": ln["hs_code"],
                        "qty": ln["qty"],
                        "value": _money(ln["value_minor"], cur),
                        "customs_value": _money(ln["base_minor"], cur),
                        "duty_rate": ln["duty_eff"],
                        "vat_rate": ln["vat_eff"],
                        "consumption_tax_rate": ln["ct_eff"],
                        "duty": _money(ln["duty_minor"], cur),
                        "vat": _money(ln["vat_minor"], cur),
                        "consumption_tax": _money(ln["ct_minor"], cur),
                        "tariff_source": ln["tariff_source"],
                        "vat_source": ln["vat_source"],
                    }
                    for ln in by_rec.get(row["rec"], [])
                ],
                "rules": sources(
                    list(applied_rules(row["regime"], row["channel"], row["date"], row["origin"]))
                ),
                **_explanation(explained[row["rec"]]),
            }
        )
    return out


def _explanation(found: dict[str, Any]) -> dict[str, Any]:
    """The explanation's part of a quote record (``customs.explain``)."""
    return {
        "estimate": found["estimate"],
        "fx": found["fx"],
        "explanation": {
            "estimate_reasons": found["estimate_reasons"],
            "decided_by": found["decided_by"],
            "rules": found["rules"],
            "measures": found["measures"],
            "fees": found["fees"],
        },
    }
