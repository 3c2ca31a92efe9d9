"""Dated customs rules: each record carries its validity interval and its source.

A quote is computed for a date, so the same order gets the rule in force on that day. The kernel
turns these records into column expressions (``param_expr``), which keeps the facts in one place
(here) and the arithmetic in another (``quote_kernel``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

import polars as pl

from xborder.customs.regimes_apac import APAC_RULES, CUSMA_ORIGINS
from xborder.customs.regimes_base import Param as Param
from xborder.customs.regimes_base import Rule as Rule
from xborder.customs.regimes_base import params
from xborder.domain.errors import InvalidValue

EU_MEMBERS = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)
# The tax currency of each regime: limits are expressed and taxes assessed in it.
TAX_CURRENCY = MappingProxyType(
    {
        "CN": "CNY",
        "EU": "EUR",
        "GB": "GBP",
        "US": "USD",
        "JP": "JPY",
        "KR": "KRW",
        "CA": "CAD",
        "AU": "AUD",
    }
)
MODELLED = "CN, EU members, GB, US, JP, KR, CA, AU"

_CORE_RULES: tuple[Rule, ...] = (
    # --- China: cross-border e-commerce retail import (9610 direct mail, 1210/1239 bonded) -------
    Rule(
        "CN.CBEC.2016",
        "CN",
        "cbec",
        date(2016, 4, 8),
        date(2018, 12, 31),
        "CBEC retail import: single transaction <= RMB 2,000, annual <= RMB 20,000 per buyer; "
        "duty 0 %, import VAT and consumption tax at 70 % of the statutory amount",
        "Cai Guan Shui [2016] No. 18 (MOF, GACC, SAT), in force 2016-04-08",
        params(
            single_minor=200_000,
            annual_minor=2_000_000,
            factor=Decimal("0.7"),
            single_item_full_rate=False,
        ),
    ),
    Rule(
        "CN.CBEC.2019",
        "CN",
        "cbec",
        date(2019, 1, 1),
        None,
        "CBEC retail import: single transaction <= RMB 5,000, annual <= RMB 26,000 per buyer; "
        "duty 0 %, import VAT and consumption tax at 70 %; a single-item order over RMB 5,000 "
        "within the annual limit clears at full duty, VAT and consumption tax",
        "Cai Guan Shui [2018] No. 49 (MOF, GACC, SAT), in force 2019-01-01",
        params(
            single_minor=500_000,
            annual_minor=2_600_000,
            factor=Decimal("0.7"),
            single_item_full_rate=True,
        ),
    ),
    Rule(
        "CN.GENERAL",
        "CN",
        "general",
        date(1987, 7, 1),
        None,
        "General trade: full duty, import VAT and consumption tax "
        "(CT = P/(1-c)*c, VAT = (P+D+CT)*v)",
        "Customs Law of the PRC; Regulations on Import and Export Duties; "
        "Tariff Law of the PRC (2024)",
    ),
    Rule(
        "CN.VALUE",
        "CN",
        "valuation",
        date(1987, 7, 1),
        None,
        "Customs value: goods + freight + insurance (CIF)",
        "Tariff Law of the PRC (2024) art. 24; "
        "Cai Guan Shui [2016] No. 18 (actual transaction price)",
    ),
    Rule(
        "CN.RETURN",
        "CN",
        "return",
        date(2019, 1, 1),
        None,
        "CBEC returns within 30 days of release: tax refunded, annual total restored",
        "GACC Announcement [2018] No. 194 art. 18",
        params(window_days=30),
    ),
    # --- European Union -------------------------------------------------------------------------
    Rule(
        "EU.IOSS",
        "EU",
        "low_value",
        date(2021, 7, 1),
        None,
        "Consignments of intrinsic value <= EUR 150: "
        "VAT at the destination rate charged at sale (IOSS)",
        "Council Directive (EU) 2017/2455; Implementing Regulation (EU) 2017/2459",
        params(threshold_minor=15_000),
    ),
    Rule(
        "EU.RELIEF150",
        "EU",
        "low_value_duty",
        date(2021, 7, 1),
        date(2026, 6, 30),
        "Customs-duty relief for consignments of negligible value <= EUR 150",
        "Council Regulation (EC) No 1186/2009 art. 23",
        params(mode="relief"),
    ),
    Rule(
        "EU.FLAT3",
        "EU",
        "low_value_duty",
        date(2026, 7, 1),
        date(2028, 6, 30),
        "Flat EUR 3 customs duty per distinct tariff classification in a consignment <= EUR 150",
        "Council of the EU, agreement of 12 December 2025 on a fixed EUR 3 duty "
        "on low-value parcels "
        "(interim until the EU Customs Data Hub, 2028-07-01)",
        params(mode="flat", per_class_minor=300),
    ),
    Rule(
        "EU.NORELIEF",
        "EU",
        "low_value_duty",
        date(2028, 7, 1),
        None,
        "Assumption: the EUR 150 relief is abolished; normal duty on every consignment",
        "EU customs reform, COM(2023) 258 (assumed in force 2028-07-01)",
        params(mode="normal"),
    ),
    Rule(
        "EU.VALUE",
        "EU",
        "valuation",
        date(2016, 5, 1),
        None,
        "Customs value: transaction value incl. transport and insurance to the EU border (CIF)",
        "Union Customs Code, Regulation (EU) 952/2013 art. 70-71",
    ),
    # --- United Kingdom -------------------------------------------------------------------------
    Rule(
        "GB.LVC135",
        "GB",
        "low_value",
        date(2021, 1, 1),
        None,
        "Consignments <= GBP 135: VAT charged by the seller at the point of sale; no customs duty",
        "Taxation (Cross-border Trade) Act 2018; HMRC 'VAT and overseas goods sold directly to "
        "customers in the UK' (from 2021-01-01)",
        params(threshold_minor=13_500),
    ),
    Rule(
        "GB.VALUE",
        "GB",
        "valuation",
        date(2021, 1, 1),
        None,
        "Customs value: transaction value incl. transport and insurance to the UK (CIF)",
        "The Customs (Import Duty) (EU Exit) Regulations 2018, Sch. 4",
    ),
    # --- United States --------------------------------------------------------------------------
    Rule(
        "US.DEMINIMIS800",
        "US",
        "low_value",
        date(2016, 3, 10),
        None,
        "Section 321 de minimis: USD 800 per person per day, duty-free",
        "19 U.S.C. 1321(a)(2)(C), as amended by TFTEA 2015 s.901 (from 2016-03-10)",
        params(threshold_minor=80_000),
    ),
    Rule(
        "US.SUSPEND.CNHK",
        "US",
        "suspension",
        date(2025, 5, 2),
        None,
        "De minimis suspended for goods of China and Hong Kong",
        "Executive Order 14256 (2025-04-02), effective 2025-05-02",
        params(origins=frozenset({"CN", "HK"})),
    ),
    Rule(
        "US.SUSPEND.ALL",
        "US",
        "suspension",
        date(2025, 8, 29),
        None,
        "De minimis suspended for goods of all countries",
        "Executive Order 14324 (2025-07-30), effective 2025-08-29",
        params(origins=frozenset({"*"})),
    ),
    Rule(
        "US.VALUE",
        "US",
        "valuation",
        date(1979, 7, 26),
        None,
        "Customs value: transaction value excluding international freight and insurance (FOB)",
        "19 U.S.C. 1401a(b)(4)(A)",
    ),
)
RULES: tuple[Rule, ...] = _CORE_RULES + APAC_RULES
RULES_BY_ID = MappingProxyType({rule.id: rule for rule in RULES})


def regime_of(destination: str) -> str:
    """The regime family of a destination country (EU member states share one)."""
    if destination in EU_MEMBERS:
        return "EU"
    if destination in TAX_CURRENCY:
        return destination
    raise InvalidValue("destination", f"no customs regime modelled ({MODELLED})", destination)


def regime_expr(destination: pl.Expr) -> pl.Expr:
    """Columnar ``regime_of``: null where no regime is modelled."""
    return (
        pl.when(destination.is_in(list(EU_MEMBERS)))
        .then(pl.lit("EU"))
        .when(destination.is_in(list(TAX_CURRENCY)))
        .then(destination)
        .otherwise(pl.lit(None, pl.String))
    )


def rules_of(regime: str, kind: str) -> list[Rule]:
    return [rule for rule in RULES if rule.regime == regime and rule.kind == kind]


def in_force(regime: str, kind: str, on: date) -> Rule | None:
    """The rule of this kind in force on ``on`` (intervals of one kind never overlap)."""
    return next((rule for rule in rules_of(regime, kind) if rule.in_force(on)), None)


def _in_force_expr(rule: Rule, on: pl.Expr) -> pl.Expr:
    cond = on >= pl.lit(rule.valid_from)
    return cond if rule.valid_to is None else cond & (on <= pl.lit(rule.valid_to))


def rule_id_expr(regime: str, kind: str, on: pl.Expr) -> pl.Expr:
    """The id of the rule of ``kind`` in force on each row's date (null if none)."""
    result: pl.Expr = pl.lit(None, pl.String)
    for rule in rules_of(regime, kind):
        result = pl.when(_in_force_expr(rule, on)).then(pl.lit(rule.id)).otherwise(result)
    return result


def param_expr(
    regime: str, kind: str, name: str, on: pl.Expr, dtype: pl.DataType | type[pl.DataType]
) -> pl.Expr:
    """A rule parameter as a column: the value of the rule in force on each row's date."""
    result: pl.Expr = pl.lit(None, dtype)
    for rule in rules_of(regime, kind):
        if name in rule.params:
            value = rule.params[name]
            literal = float(value) if isinstance(value, Decimal) else value
            result = (
                pl.when(_in_force_expr(rule, on)).then(pl.lit(literal, dtype)).otherwise(result)
            )
    return result


def sources(rule_ids: list[str]) -> list[dict[str, str]]:
    """Rule ids with their summary, source and validity, for a quote's output."""
    result = []
    for rid in rule_ids:
        rule = RULES_BY_ID.get(rid)
        if rule is not None:
            result.append(
                {
                    "id": rid,
                    "summary": rule.summary,
                    "source": rule.source,
                    "valid_from": rule.valid_from.isoformat(),
                    "valid_to": rule.valid_to.isoformat() if rule.valid_to else "",
                }
            )
    return result


@lru_cache(maxsize=4096)
def applied_rules(regime: str, channel: str, on: date, origin: str) -> tuple[str, ...]:
    """The ids of the rules a quote applied (for its output and the declaration record)."""
    ids: list[str | None] = []
    if regime == "CN":
        cbec = in_force("CN", "cbec", on)
        ids += [cbec.id if cbec else None, "CN.GENERAL" if channel == "general" else None]
        ids.append("CN.VALUE")
    elif regime == "EU":
        low = in_force("EU", "low_value", on)
        duty = in_force("EU", "low_value_duty", on) if channel == "ioss" else None
        ids += [low.id if low else None, duty.id if duty else None, "EU.VALUE"]
    elif regime == "GB":
        low = in_force("GB", "low_value", on)
        ids += [low.id if low else None, "GB.VALUE"]
    elif regime == "US":
        low = in_force("US", "low_value", on)
        suspensions = [
            r.id
            for r in rules_of("US", "suspension")
            if r.in_force(on) and (origin in r.params["origins"] or "*" in r.params["origins"])  # type: ignore[operator]
        ]
        ids += [low.id if low else None, *suspensions, "US.VALUE"]
    elif regime in APAC_REGIMES:
        ids += _apac_rules(regime, on, origin)
    # only rules in force on the date (a valuation rule starts on a date too)
    return tuple(i for i in ids if i is not None and RULES_BY_ID[i].in_force(on))


APAC_REGIMES = frozenset({"JP", "KR", "CA", "AU"})


def _apac_rules(regime: str, on: date, origin: str) -> list[str | None]:
    """The rules considered for a JP, KR, CA or AU quote: its thresholds in force (the reason
    code says which decided), its valuation and its tax rule."""
    kinds = {
        "JP": ("low_value", "valuation", "tax"),
        "KR": ("low_value", "valuation"),
        "CA": ("low_value", "valuation", "tax"),
        "AU": ("low_value", "vendor_gst", "valuation"),
    }[regime]
    ids: list[str | None] = []
    for kind in kinds:
        rule = in_force(regime, kind, on)
        ids.append(rule.id if rule else None)
    if regime == "KR" and origin == "US":
        korus = in_force("KR", "low_value_us", on)
        ids.insert(1, korus.id if korus else None)
    if regime == "CA" and origin in CUSMA_ORIGINS:
        cusma = in_force("CA", "low_value_cusma", on)
        ids.insert(1, cusma.id if cusma else None)
    return ids


def with_dated(frame: pl.DataFrame, on: str, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    """Add columns that depend on the date only: evaluated once per distinct date, then joined
    (a batch has few dates; evaluating the rule chains per row would cost per row)."""
    dates = frame.select(pl.col(on).unique())
    table = dates.with_columns(**columns)
    return frame.join(table, on=on, how="left", maintain_order="left")
