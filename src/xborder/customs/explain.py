"""Why a quote says what it says: the rule that decided each component, the rules and measures that
were considered and did not apply, the FX rate used, and whether the quote is an estimate.

Generic over the regimes: it reads ``regimes.RULES`` and ``applied_rules`` (no regime list
here), the kernel's order columns (``channel``, ``eligible``, ``reason_code``, ``exact_tariff``,
``fx_rate``, ``measure_ids``, ``fee_ids``) and the measure and fee tables. A quote is exact only
when every component came from a rule in force, every line's duty rate from a full national
tariff line (or the caller), and no unverified measure or fee that would apply was left off;
otherwise it is an estimate, and ``estimate_reasons`` says why. The explanation is built per shown
order (text); the unverified re-checks are columnar over the whole batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

import polars as pl

from xborder.customs.fees import fee_matches, fee_rows
from xborder.customs.measures import line_duties, measure_rows
from xborder.customs.quote_kernel import REASONS, QuoteResult
from xborder.customs.regimes import RULES, Rule, applied_rules

COMPONENTS: Final = ("customs_value", "duty", "additional_duty", "vat", "consumption_tax", "fees")
# Which components a rule of a kind decides; any other kind (a regime's channel rules: low value,
# CBEC, general trade, vendor collection...) decides the duties and taxes.
KIND_COMPONENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "valuation": ("customs_value",),
    "suspension": ("duty",),
    "low_value_duty": ("duty",),
}
TAX_COMPONENTS: Final = ("duty", "vat", "consumption_tax")
THRESHOLD_PARAMS: Final = ("threshold_minor", "single_minor", "annual_minor")
KERNEL_DEFAULTS: Final[Mapping[str, pl.Expr]] = {
    "additional_duty_minor": pl.lit(0, pl.Int64),
    "measure_ids": pl.lit(None, pl.String),
    "fee_ids": pl.lit(None, pl.String),
    "exact_tariff": pl.lit(False),
    "fx_rate": pl.lit(None, pl.Float64),
    "incoterm": pl.lit(None, pl.String),
}


@dataclass(frozen=True, slots=True)
class FxUsed:
    """The FX rate a quote converted with: 1 ``base`` = ``rate`` ``quote``, dated ``on`` (the rate
    table's ``valid_from``; None when the caller gave the rate)."""

    base: str
    quote: str
    rate: Decimal
    on: date | None
    source: str

    def record(self) -> dict[str, str | None]:
        return {
            "from": self.base,
            "to": self.quote,
            "rate": str(self.rate),
            "date": self.on.isoformat() if self.on else None,
            "source": self.source,
        }


def with_kernel_columns(orders: pl.DataFrame) -> pl.DataFrame:
    """The order columns the explanation reads, defaulted where the kernel does not give them."""
    return orders.with_columns(
        expr.alias(name) for name, expr in KERNEL_DEFAULTS.items() if name not in orders.columns
    )


def _ids(text: str | None) -> list[str]:
    return [i for i in (text or "").split(",") if i]


def _window(rule_from: date, rule_to: date | None) -> str:
    return f"valid {rule_from.isoformat()}..{rule_to.isoformat() if rule_to else 'open'}"


def _rule_is_assumption(rule: Rule) -> bool:
    return rule.summary.startswith("Assumption") or rule.params.get("verified") is False


@lru_cache(maxsize=4096)
def rule_statuses(
    regime: str, channel: str, on: date, origin: str, eligible: bool, reason: str
) -> tuple[tuple[str, str, str], ...]:
    """(id, status, reason) of every rule of the regime: ``applied``, ``not applicable`` (with the
    rule that displaced it, or the quote's reason) or ``not in force`` (with its validity)."""
    used = set(applied_rules(regime, channel, on, origin))
    by_id = {r.id: r for r in RULES if r.regime == regime}
    suspensions = [i for i in used if by_id[i].kind == "suspension"] if used <= set(by_id) else []
    out = []
    for rule in by_id.values():
        if not rule.in_force(on):
            out.append((rule.id, "not in force", _window(rule.valid_from, rule.valid_to)))
        elif rule.id not in used:
            out.append((rule.id, "not applicable", f"not used in the {channel} channel"))
        elif rule.kind == "low_value" and suspensions:
            out.append(
                (rule.id, "not applicable", f"suspended by {', '.join(sorted(suspensions))}")
            )
        elif any(p in rule.params for p in THRESHOLD_PARAMS) and not eligible:
            out.append((rule.id, "not applicable", reason or "over its threshold"))
        else:
            out.append((rule.id, "applied", rule.summary))
    return tuple(out)


@lru_cache(maxsize=4096)
def _rules_decide(
    statuses: tuple[tuple[str, str, str], ...],
) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Per component (``COMPONENTS`` order) the applied rules deciding it; and the applied rules
    that are assumptions."""
    by_id = {r.id: r for r in RULES}
    out: dict[str, list[str]] = {c: [] for c in COMPONENTS}
    assumed = []
    for rid, status, _ in statuses:
        if status == "applied":
            for component in KIND_COMPONENTS.get(by_id[rid].kind, TAX_COMPONENTS):
                out[component].append(rid)
            if _rule_is_assumption(by_id[rid]):
                assumed.append(rid)
    return tuple(tuple(out[c]) for c in COMPONENTS), tuple(assumed)


@lru_cache(maxsize=4096)
def _measures_considered(
    importers: tuple[str, ...], origin: str, on: date
) -> tuple[tuple[str, bool, str, str], ...]:
    """(id, in force, validity text, source) of every measure of these importers for the origin."""
    out = []
    for mid, rows in measure_rows().items():
        mine = [
            r
            for r in rows
            if r["importer"] in importers
            and ("*" in r["origins"] or origin in r["origins"])  # type: ignore[operator]
            and origin not in r["exclude_origins"]  # type: ignore[operator]
        ]
        if mine:
            live = any(r["from"] <= on <= r["to"] for r in mine)  # type: ignore[operator]
            first, last = min(r["from"] for r in mine), max(r["to"] for r in mine)  # type: ignore[type-var]
            to = None if last == date.max else last
            out.append((mid, live, _window(first, to), str(mine[0]["source"])))  # type: ignore[arg-type]
    return tuple(out)


def _unverified_extras(result: QuoteResult, orders: pl.DataFrame) -> tuple[dict[int, Any], ...]:
    """Per order: the unverified measures and fees that would apply, and what they would add."""
    ctx = orders.select("rec", "date", "regime", "destination", "origin", "error")
    lines = result.lines.join(ctx, on="rec", how="inner").with_columns(
        pl.col("error").is_null().alias("ok")
    )
    measures: dict[int, Any] = {}
    if lines.height:
        base = line_duties(lines).group_by("rec").agg(pl.col("additional_duty_minor").sum())
        wide = line_duties(lines, include_unverified=True)
        wide_sum = wide.group_by("rec").agg(
            pl.col("additional_duty_minor").sum().alias("wide"),
            pl.col("measure_ids").str.split(",").explode().unique().sort(),
        )
        diff = wide_sum.join(base, on="rec", how="left").filter(
            pl.col("wide") != pl.col("additional_duty_minor").fill_null(0)
        )
        for row in diff.iter_rows(named=True):
            extra = int(row["wide"]) - int(row["additional_duty_minor"] or 0)
            measures[row["rec"]] = (row["measure_ids"], extra)
    fees: dict[int, Any] = {}
    needed = {"channel", "goods_minor", "customs_value_minor", "total_tax_minor", "tax_currency"}
    if needed <= set(orders.columns):
        narrow = fee_matches(orders).select("rec", "id")
        wide_f = fee_matches(orders, include_unverified=True)
        extra_f = wide_f.join(narrow, on=["rec", "id"], how="anti")
        for row in (
            extra_f.group_by("rec").agg("id", pl.col("fee_minor").sum()).iter_rows(named=True)
        ):
            fees[row["rec"]] = (sorted(row["id"]), int(row["fee_minor"]))
    return measures, fees


def explain(
    result: QuoteResult, fx: Mapping[int, FxUsed] | None = None
) -> dict[int, dict[str, Any]]:
    """The explanation of every quoted order (errors excluded), by ``rec``. Orders alike share
    their explanation's lists: treat the result as read-only."""
    orders = with_kernel_columns(result.orders)
    extra_measures, extra_fees = _unverified_extras(result, orders)
    sources_by_rec: dict[int, dict[str, set[str]]] = {}
    for row in result.lines.select("rec", "tariff_source", "vat_source").iter_rows(named=True):
        acc = sources_by_rec.setdefault(row["rec"], {"tariff": set(), "vat": set()})
        acc["tariff"].add(row["tariff_source"] or "given on the line")
        acc["vat"].add(row["vat_source"] or "given on the line")
    fee_sources = {fid: str(rows[0]["source"]) for fid, rows in fee_rows().items()}
    out: dict[int, dict[str, Any]] = {}
    built: dict[tuple[Any, ...], dict[str, Any]] = {}  # orders alike share one explanation
    for row in orders.filter(pl.col("error").is_null()).iter_rows(named=True):
        rec = row["rec"]
        srcs = sources_by_rec.get(rec, {"tariff": set(), "vat": set()})
        extra_m = extra_measures.get(rec, ([], 0))
        extra_f = extra_fees.get(rec, ([], 0))
        key = (
            *(row[c] for c in SHARED_BY),
            bool(row.get("ct_minor")),
            tuple(sorted(srcs["tariff"])),
            tuple(sorted(srcs["vat"])),
            tuple(extra_m[0]),
            tuple(extra_f[0]),
        )
        if key not in built:
            built[key] = _one(row, srcs, extra_m[0], extra_f[0], fee_sources)
        fx_record = fx[rec].record() if fx and rec in fx else _kernel_fx(row)
        out[rec] = {**built[key], "fx": fx_record}
    return out


SHARED_BY: Final = (
    "regime",
    "destination",
    "channel",
    "date",
    "origin",
    "eligible",
    "reason_code",
    "cbec_reason",
    "measure_ids",
    "fee_ids",
    "exact_tariff",
)


def _one(
    row: Mapping[str, Any],
    srcs: Mapping[str, set[str]],
    extra_m: list[str],
    extra_f: list[str],
    fee_sources: Mapping[str, str],
) -> dict[str, Any]:
    """The explanation of one order (shared by the orders alike in ``SHARED_BY``)."""
    on = row["date"]
    reason = REASONS.get(row["reason_code"] or "", row.get("cbec_reason") or "")
    statuses = rule_statuses(
        row["regime"], row["channel"], on, row["origin"], bool(row["eligible"]), reason
    )
    per_component, assumed = _rules_decide(statuses)
    decided = {c: list(ids) for c, ids in zip(COMPONENTS, per_component, strict=True)}
    decided["duty"] += [f"tariff: {s}" for s in sorted(srcs["tariff"])]
    decided["vat"] += [f"VAT rate: {s}" for s in sorted(srcs["vat"])]
    if row.get("ct_minor"):
        decided["consumption_tax"] += [f"tariff: {s}" for s in sorted(srcs["tariff"])]
    applied_measures = _ids(row["measure_ids"])
    applied_fees = _ids(row["fee_ids"])
    decided["additional_duty"] = applied_measures
    decided["fees"] = applied_fees
    importers = tuple(sorted({row["destination"], row["regime"]}))
    measures = []
    for mid, live, window, source in _measures_considered(importers, row["origin"], on):
        if mid in applied_measures:
            status, why = "applied", window
        elif mid in extra_m:
            status, why = "left off", "unverified (see its note)"
        elif live:
            status, why = "not applicable", "no line's HS code in its scope"
        else:
            status, why = "not in force", window
        measures.append({"id": mid, "status": status, "reason": why, "source": source})
    fees = [
        {"id": fid, "status": "applied", "reason": "", "source": fee_sources.get(fid, "")}
        for fid in applied_fees
    ] + [
        {"id": fid, "status": "left off", "reason": "unverified", "source": fee_sources[fid]}
        for fid in extra_f
    ]
    reasons = []
    if not row["exact_tariff"]:
        reasons.append("duty rates from heading-level tariff rows, not full national lines")
    if extra_m:
        reasons.append(f"unverified measures left off: {', '.join(extra_m)}")
    if extra_f:
        reasons.append(f"unverified fees left off: {', '.join(extra_f)}")
    if assumed:
        reasons.append(f"rules that are assumptions: {', '.join(assumed)}")
    return {
        "estimate": bool(reasons),
        "estimate_reasons": reasons,
        "decided_by": decided,
        "rules": [{"id": i, "status": st, "reason": r} for i, st, r in statuses],
        "measures": measures,
        "fees": fees,
    }


def _kernel_fx(row: Mapping[str, Any]) -> dict[str, str | None] | None:
    rate = row.get("fx_rate")
    if rate is None:
        return None
    return {"from": None, "to": row["tax_currency"], "rate": str(rate), "date": None, "source": ""}
