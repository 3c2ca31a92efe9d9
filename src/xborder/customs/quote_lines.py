"""Per-line duty, consumption tax and VAT, and the order's customs value, rounded half-up exactly.

The arithmetic of ``quote_kernel`` on the joined line frame (see its docstring for the formula):
customs value B = value x (num x goods + den x freight/insurance in the customs value) /
(den x goods), VAT-only extra E = value x freight/insurance in the VAT base only / goods; on
an order without goods value the first line carries the freight and insurance.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import polars as pl

from xborder.customs.quote_math import exact, round_half_up, tax_components


def customs_value(orders: pl.DataFrame) -> pl.Series:
    """Order customs value: goods x share + freight and insurance where valued CIF, half-up."""
    goods = orders.get_column("goods_minor").to_numpy()
    fi = np.where(orders.get_column("fi_in_base").to_numpy(), orders.get_column("fi_minor"), 0)
    num = orders.get_column("gs_num").to_numpy()
    den = orders.get_column("gs_den").to_numpy()
    x = (num * goods.astype(np.float64) + den * fi.astype(np.float64)) / den

    def exact_at(i: int) -> Fraction:
        return Fraction(int(num[i]) * int(goods[i]) + int(den[i]) * int(fi[i]), int(den[i]))

    return pl.Series("customs_value_minor", round_half_up(x, exact_at))


def line_taxes(lines: pl.DataFrame) -> pl.DataFrame:
    """Per-line duty, consumption tax and VAT via ``tax_components``, rounded half-up exactly."""
    v = lines.get_column("value_minor").to_numpy()
    goods = lines.get_column("goods_minor").fill_null(0).to_numpy()
    fi_all = lines.get_column("fi_minor").fill_null(0).to_numpy()
    in_base = lines.get_column("fi_in_base").fill_null(True).to_numpy()
    in_vat = lines.get_column("fi_in_vat_base").fill_null(True).to_numpy()
    fi = np.where(in_base, fi_all, 0)
    fi_x = np.where(in_vat & ~in_base, fi_all, 0)
    num = lines.get_column("gs_num").fill_null(1).to_numpy()
    den = lines.get_column("gs_den").fill_null(1).to_numpy()
    first_line = lines.get_column("rec").is_first_distinct().to_numpy()
    ok = (
        lines.get_column("order_error").is_null() & lines.get_column("line_error").is_null()
    ).to_numpy()
    # Japan: designated goods stay taxed inside the JPY 10,000 exemption.
    taxed_anyway = (
        (lines.get_column("channel") == "small_exempt") & lines.get_column("jp_excluded")
    ).fill_null(False)
    duty_on = (lines.get_column("duty_on").fill_null(True) | taxed_anyway).to_numpy()
    tax_on = (lines.get_column("tax_on").fill_null(True) | taxed_anyway).to_numpy()
    d = np.where(duty_on, lines.get_column("duty_eff").fill_null(0.0).to_numpy(), 0.0)
    c = lines.get_column("ct_eff").fill_null(0.0).to_numpy()
    c = np.where(ok & (c < 1) & tax_on, c, 0.0)
    vr = np.where(tax_on, lines.get_column("vat_eff").fill_null(0.0).to_numpy(), 0.0)
    f = lines.get_column("factor").fill_null(1.0).to_numpy()
    safe_goods = np.where(goods > 0, goods, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = np.where(
            goods > 0,
            v * ((num * goods + den * fi) / (den * safe_goods)),
            np.where(first_line, fi, 0),
        ).astype(np.float64)
        extra = np.where(goods > 0, v * (fi_x / safe_goods), np.where(first_line, fi_x, 0)).astype(
            np.float64
        )

    def base_exact(i: int) -> Fraction:
        if goods[i] > 0:
            g = int(goods[i])
            return Fraction(
                int(v[i]) * (int(num[i]) * g + int(den[i]) * int(fi[i])), int(den[i]) * g
            )
        return Fraction(int(fi[i]) if first_line[i] else 0)

    def extra_exact(i: int) -> Fraction:
        if goods[i] > 0:
            return Fraction(int(v[i]) * int(fi_x[i]), int(goods[i]))
        return Fraction(int(fi_x[i]) if first_line[i] else 0)

    def component(k: int) -> Callable[[int], Fraction]:
        def at(i: int) -> Fraction:
            rates = (exact(float(d[i])), exact(float(c[i])), exact(float(vr[i])))
            parts = tax_components(base_exact(i), *rates, exact(float(f[i])), extra_exact(i))
            return parts[k]

        return at

    duty_x, ct_x, vat_x = tax_components(base, d, c, vr, f, extra)
    duty = round_half_up(duty_x, component(0))
    ct = round_half_up(ct_x, component(1))
    vat = round_half_up(vat_x, component(2))
    per_class = lines.get_column("flat_per_class_minor").fill_null(0).to_numpy()
    flat = np.zeros_like(per_class)
    if per_class.any():  # EU flat duty: once per distinct classification in the consignment
        idx = np.flatnonzero(per_class)
        sub = lines[pl.Series(idx)].select(pl.struct("rec", "hs_code").is_first_distinct())
        flat[idx] = np.where(sub.to_series().to_numpy(), per_class[idx], 0)
    base_minor = round_half_up(base, base_exact)
    zero = np.zeros_like(duty)
    return lines.with_columns(
        pl.Series("base_minor", base_minor),
        pl.Series("duty_minor", np.where(ok, duty + flat, zero)),
        pl.Series("ct_minor", np.where(ok, ct, zero)),
        pl.Series("vat_minor", np.where(ok, vat, zero)),
        pl.Series("ok", ok),
    )
