"""KPIs per period, measured from the store the real engines wrote (issue 11).

Nothing is recomputed by a shortcut that could disagree with the platform: times come from the
parcels' milestones and the trace ledger, duty and tax from the stored customs declarations,
logistics cost, compensation, escrow and each partner's profit from the settlement ledger. The
store is read set-wise (``uow.kpis``) and measured columnar with Polars; money is summed in
integer minor units per (currency, day) and converted exactly (``Decimal``) at the stored FX
rates of the order's day. ``docs/kpis.md`` defines every KPI, its unit and its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl

from xborder.domain.errors import InvalidValue
from xborder.domain.lifecycle import ALLOWED_PAIRS, STATE_AFTER, Step
from xborder.domain.money import FxTable, currency_code, minor_units
from xborder.services.customs_quote import stored_fx
from xborder.store.uow import UnitOfWork

KPI_KEYS: tuple[str, ...] = (
    "orders", "paid", "parcels", "delivered", "delivery_days_mean", "delivery_days_p50",
    "delivery_days_p95", "on_time_rate", "gmv", "goods_per_order", "freight_per_order",
    "duty_per_order", "tax_per_order", "fees_per_order", "logistics_cost_per_order",
    "landed_cost_per_order", "loss_rate", "damage_rate", "return_rate", "attempt_rate",
    "clearance_hours_mean", "hold_rate", "trace_completeness", "escrow_days_outstanding",
    "compensation_per_order", "unplanned_rate", "quote_variance_rate",
)  # fmt: skip
_LOWER_IS_BETTER = frozenset(
    {"delivery_days_mean", "delivery_days_p50", "delivery_days_p95", "freight_per_order",
     "duty_per_order", "tax_per_order", "fees_per_order", "logistics_cost_per_order",
     "landed_cost_per_order", "loss_rate", "damage_rate", "return_rate", "attempt_rate",
     "clearance_hours_mean", "hold_rate", "escrow_days_outstanding", "compensation_per_order",
     "unplanned_rate", "quote_variance_rate"}
)  # fmt: skip
KPI_DIRECTION: dict[str, str] = {k: "-" if k in _LOWER_IS_BETTER else "+" for k in KPI_KEYS}
TIMELINE_KEYS = ("cleared", "held", "inspected", "lost", "damaged", "returned", "attempted",
                 "delivered")  # fmt: skip

RECORD_LIMIT_MS = 24 * 3600 * 1000  # an event must reach the trace ledger within 24 h
DAY_US, HOUR_MS = 86_400_000_000, 3_600_000
# owned money: a transfer into one of these is a party's revenue, out of one its cost; escrow,
# buyers' funds and customs' tax are held for others
OWN_PURPOSES = ("proceeds", "fees", "receivable", "compensation", "fx")
LOGISTICS_CODES = ("partner.pay", "partner.pay.warehouse", "partner.pay.lane",
                   "partner.pay.last_mile")  # fmt: skip
COMPENSATION_CODES = ("sla.late", "refund.loss", "sla.loss.buyer")
ROLE_ORDER = ("seller", "platform", "payment_provider", "logistics_provider",
              "warehouse_operator", "last_mile_carrier", "customs_broker")  # fmt: skip
S = Step
_CUSTOMS = (S.EXPORT_HELD, S.EXPORT_INSPECTED, S.EXPORT_RELEASED, S.EXPORT_REJECTED,
            S.IMPORT_HELD, S.IMPORT_INSPECTED, S.IMPORT_RELEASED, S.IMPORT_REJECTED)  # fmt: skip
_HOLDS = (S.EXPORT_HELD, S.EXPORT_INSPECTED, S.EXPORT_REJECTED, S.IMPORT_HELD,
          S.IMPORT_INSPECTED, S.IMPORT_REJECTED)  # fmt: skip
_IMPORT_ON = (S.IMPORT_HELD, S.IMPORT_INSPECTED, S.IMPORT_RELEASED, S.IMPORT_REJECTED,
              S.DECONSOLIDATED, S.OUT_FOR_DELIVERY, S.DELIVERY_ATTEMPT, S.DELIVERED)  # fmt: skip
_LAST_MILE = (S.OUT_FOR_DELIVERY, S.DELIVERY_ATTEMPT, S.DELIVERED)
_TIMELINE: Mapping[str, tuple[Step, ...]] = {
    "cleared": (S.EXPORT_RELEASED, S.IMPORT_RELEASED),
    "held": (S.EXPORT_HELD, S.EXPORT_REJECTED, S.IMPORT_HELD, S.IMPORT_REJECTED),
    "inspected": (S.EXPORT_INSPECTED, S.IMPORT_INSPECTED), "lost": (S.LOST,),
    "damaged": (S.DAMAGED,), "returned": (S.RETURNED,), "attempted": (S.DELIVERY_ATTEMPT,),
    "delivered": (S.DELIVERED,),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MeasureKpis:
    period_days: int = 7  # periods counted from `start` by the ORDER's placed date
    start: date | None = None  # default: the first order's placed date
    until: date | None = None  # default: the clock's today
    currency: str = "CNY"  # reporting currency of money KPIs (FX of the order's date)
    on_time_grace_days: int = 0


@dataclass(frozen=True, slots=True)
class KpiReport:
    currency: str
    periods: list[dict[str, Any]]  # {"period": date (start of period), <kpi>: value, ...}
    overall: dict[str, Any]  # the same kpi keys over the whole run (period = start)
    delivery_days: list[float]  # per delivered parcel: order placed -> delivered, in days
    partners: list[dict[str, Any]]  # {"party", "name", "role", "revenue", "cost", "profit"}
    timeline: list[dict[str, Any]]  # per calendar day: {"day", <TIMELINE_KEYS>: count}


@dataclass(frozen=True, slots=True)
class _Store:
    """What the store says, restricted to the orders placed in [start, until]."""

    orders: pl.DataFrame  # + day (UTC placed date)
    parcels: pl.DataFrame  # one row per parcel, with its order's and its trace record's facts
    escrow: pl.DataFrame
    declarations: pl.DataFrame  # + day
    variances: pl.DataFrame  # assessed declarations: quoted and |assessed - quoted|, + day
    flows: pl.DataFrame
    events: pl.DataFrame


def measure_kpis(uow: UnitOfWork, command: MeasureKpis) -> KpiReport:
    """The KPIs of the orders placed from ``start`` to ``until``, per period and overall."""
    if command.period_days < 1:
        raise InvalidValue("period_days", "must be at least 1", command.period_days)
    if command.on_time_grace_days < 0:
        raise InvalidValue("on_time_grace_days", "must not be negative", command.on_time_grace_days)
    target = currency_code(command.currency)
    with uow:
        repo = uow.kpis
        orders = repo.orders().with_columns(pl.col("placed_at").dt.date().alias("day"))
        until = command.until or uow.clock.now().date()
        first = orders.get_column("day").min()
        start = command.start or (first if isinstance(first, date) else until)
        if start > until:
            raise InvalidValue("start", f"is after until ({until.isoformat()})", start.isoformat())
        orders = orders.filter(pl.col("day").is_between(start, until))
        keep = orders.select("order_id", "day")
        events = repo.parcel_events().join(keep.select("order_id"), on="order_id", how="semi")
        store = _Store(
            orders=orders,
            parcels=_parcel_facts(repo.parcels(), events, orders),
            escrow=repo.escrow_times().join(keep, on="order_id", how="semi"),
            declarations=repo.declarations().join(keep, on="order_id"),
            variances=repo.quote_variances().join(keep, on="order_id"),
            flows=repo.ledger_flows().filter(pl.col("day").is_between(start, until)),
            events=events,
        )
        fx, parties = stored_fx(uow.customs), repo.parties()
    money = _Money(fx, target)
    grace = command.on_time_grace_days
    whole = (until - start).days + 1
    periods = _measure(store, money, start, command.period_days, until, grace)
    overall = _measure(store, money, start, whole, until, grace)[0]
    delivered = store.parcels.filter(pl.col("delivered_at").is_not_null()).sort("order_id")
    return KpiReport(
        currency=target, periods=periods, overall=overall,
        delivery_days=delivered.get_column("delivery_days").to_list(),
        partners=_partners(store.flows, parties, money), timeline=_timeline(store, start, until),
    )  # fmt: skip


# --- the trace record, per parcel -----------------------------------------------------------------
def _steps_frame() -> pl.DataFrame:
    states = [(s.value, None if a is None else a.value) for s, a in STATE_AFTER.items()]
    return pl.DataFrame(states, schema={"step": pl.String, "moves_to": pl.String}, orient="row")


def _parcel_facts(
    parcels: pl.DataFrame, events: pl.DataFrame, orders: pl.DataFrame
) -> pl.DataFrame:
    """One row per parcel of the measured orders: its order's facts and what its trace record
    says (steps seen, clearance start and release, whether the record is unbroken)."""
    allowed = pl.DataFrame(
        [("" if a is None else a, b) for a, b in ALLOWED_PAIRS],
        schema={"prev_state": pl.String, "step": pl.String}, orient="row",
    ).with_columns(pl.lit(True).alias("allowed"))  # fmt: skip
    ordered = (
        events.sort("order_id", "event_ms", "event_id")
        .join(_steps_frame(), on="step", how="left", maintain_order="left")
        .with_columns(pl.col("moves_to").forward_fill().over("order_id").alias("state"))
        .with_columns(pl.col("state").shift(1).over("order_id").fill_null("").alias("prev_state"))
        .join(allowed, on=["prev_state", "step"], how="left", maintain_order="left")
    )

    def has(*steps: Step) -> pl.Expr:
        return pl.col("step").is_in([s.value for s in steps]).any()

    def first(step: Step) -> pl.Expr:
        return pl.col("event_ms").filter(pl.col("step") == step.value).min()

    late = (pl.col("delay_ms") > RECORD_LIMIT_MS) & (pl.col("step") != S.ORDER_PLACED.value)
    record = ordered.group_by("order_id").agg(
        pl.col("allowed").fill_null(False).all().alias("in_order"),
        (~late).all().alias("timely"),
        has(S.ORDER_PLACED).alias("placed_event"), has(S.PICKED_PACKED).alias("packed_event"),
        has(S.DEPARTED).alias("departed"), has(S.ARRIVED).alias("arrived"),
        has(S.IMPORT_RELEASED).alias("import_released"), has(*_IMPORT_ON).alias("import_on"),
        has(*_LAST_MILE).alias("last_mile"), has(S.OUT_FOR_DELIVERY).alias("out_for_delivery"),
        has(S.DELIVERY_ATTEMPT).alias("attempted"), has(S.LOST).alias("lost"),
        has(S.DAMAGED).alias("damaged"), has(S.RETURNED).alias("returned"),
        has(*_CUSTOMS).alias("customs"), has(*_HOLDS).alias("held"),
        first(S.IMPORT_RELEASED).alias("released_ms"), first(S.PICKED_PACKED).alias("packed_ms"),
        pl.col("event_ms").filter(pl.col("step") == S.ARRIVED.value).max().alias("arrived_ms"),
    )  # fmt: skip
    flags = [c for c in record.columns if record.schema[c] == pl.Boolean]
    cross_border = pl.col("lane_id").is_not_null()
    path = (
        pl.col("placed_event") & pl.col("packed_event")
        & (~cross_border | ~pl.col("import_on") | (pl.col("departed") & pl.col("arrived")))
        & (~pl.col("declared").fill_null(False) | ~pl.col("last_mile")
           | pl.col("import_released"))
    )  # fmt: skip
    arrival = pl.col("arrived_ms")  # for stock already in the country: when it was packed
    start = pl.when(arrival <= pl.col("released_ms")).then(arrival).otherwise(pl.col("packed_ms"))
    return (
        parcels.join(orders.select("order_id", "day", "placed_at", "promised_by"), on="order_id")
        .join(record, on="order_id", how="left")
        .with_columns(pl.col(flags).fill_null(False))
        .with_columns(
            (path & pl.col("in_order") & pl.col("timely")).alias("complete"),
            ((pl.col("released_ms") - start) / HOUR_MS).alias("clearance_hours"),
            ((pl.col("delivered_at") - pl.col("placed_at")).dt.total_microseconds() / DAY_US)
            .alias("delivery_days"),
        )
    )  # fmt: skip


# --- money ---------------------------------------------------------------------------------------
class _Money:
    """Integer minor units per (currency, day) into the reporting currency, exactly."""

    def __init__(self, fx: FxTable, target: str) -> None:
        self.fx, self.target = fx, target
        self.quantum = Decimal(1).scaleb(-minor_units(target))
        self._rates: dict[tuple[str, date], Decimal] = {}

    def totals(self, frame: pl.DataFrame, keys: list[str]) -> dict[tuple[Any, ...], Decimal]:
        """``frame``: keys..., currency, day, amount (minor units) -> Decimal per key."""
        out: dict[tuple[Any, ...], Decimal] = {}
        grouped = frame.group_by([*keys, "currency", "day"]).agg(pl.col("amount").sum())
        for *key, currency, day, minor in grouped.iter_rows():  # one per (key, currency, day)
            if (currency, day) not in self._rates:
                self._rates[currency, day] = self.fx.rate(currency, self.target, day)
            rate = self._rates[currency, day]
            value = Decimal(int(minor)).scaleb(-minor_units(currency)) * rate
            out[tuple(key)] = out.get(tuple(key), Decimal(0)) + value
        return out

    def round(self, value: Decimal) -> Decimal:
        return value.quantize(self.quantum, rounding=ROUND_HALF_UP)


def _long(frame: pl.DataFrame, parts: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """period, part, currency, day, amount: one row per (row, part) of ``frame``."""
    return pl.concat([
        frame.select("period", pl.lit(name).alias("part"), "currency", "day",
                     expr.cast(pl.Int64).alias("amount"))
        for name, expr in parts.items()
    ])  # fmt: skip


# --- the KPIs of each period ----------------------------------------------------------------------
def _exact_mean(whole: pl.Expr, unit: int) -> pl.Expr:
    """The mean of an integer column in ``unit``s, summed exactly: a float mean's last bits
    depend on the order the rows come in, which a hash join does not fix from run to run."""
    n = whole.count()
    return pl.when(n > 0).then(whole.cast(pl.Int128).sum() / n / unit)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den).otherwise(None)


def _measure(
    store: _Store, money: _Money, start: date, days: int, until: date, grace: int
) -> list[dict[str, Any]]:
    """The KPIs of each period of ``days`` days from ``start`` (every period up to ``until``)."""

    def period(frame: pl.DataFrame) -> pl.DataFrame:
        offset = (pl.col("day") - pl.lit(start)).dt.total_days() // days * days
        return frame.with_columns((pl.lit(start) + pl.duration(days=offset)).alias("period"))

    orders, parcels, flows = period(store.orders), period(store.parcels), period(store.flows)
    paid_orders = orders.filter(
        (pl.col("paid_minor") > 0)
        & (pl.col("paid_minor") >= pl.col("goods") + pl.col("freight") + pl.col("insurance")
           - pl.col("discount"))
    )  # fmt: skip
    promise = pl.col("promised_by") + pl.duration(days=grace)
    done = pl.col("delivered_at").is_not_null()
    rows = (
        orders.group_by("period").agg(pl.len().alias("orders"))
        .join(paid_orders.group_by("period").agg(
            pl.len().alias("paid"), (~pl.col("planned")).sum().alias("unplanned")),
            on="period", how="left")
        .join(parcels.group_by("period").agg(
            pl.len().alias("parcels"), done.sum().alias("delivered"),
            pl.col("delivery_days").mean().alias("delivery_days_mean"),
            pl.col("delivery_days").quantile(0.5, "linear").alias("delivery_days_p50"),
            pl.col("delivery_days").quantile(0.95, "linear").alias("delivery_days_p95"),
            (done & (pl.col("delivered_at").dt.date() <= promise)).sum().alias("on_time"),
            (done | (promise < pl.lit(until))).sum().alias("promise_due"),
            pl.col("lost").sum(), pl.col("damaged").sum(), pl.col("returned").sum(),
            pl.col("attempted").sum(), pl.col("out_for_delivery").sum(),
            pl.col("clearance_hours").mean().alias("clearance_hours_mean"),
            pl.col("held").sum(), pl.col("customs").sum(), pl.col("complete").sum()),
            on="period", how="left")
        .join(period(store.escrow.join(store.orders.select("order_id", "day"), on="order_id"))
              .group_by("period").agg(_exact_mean(
                  (pl.col("released_at") - pl.col("captured_at")).dt.total_microseconds(), DAY_US
              ).alias("escrow_days_outstanding")),
              on="period", how="left")
        .with_columns(pl.col("paid", "unplanned", "parcels", "delivered").fill_null(0))
        .with_columns(
            _ratio(pl.col("on_time"), pl.col("promise_due")).alias("on_time_rate"),
            _ratio(pl.col("lost"), pl.col("parcels")).alias("loss_rate"),
            _ratio(pl.col("damaged"), pl.col("parcels")).alias("damage_rate"),
            _ratio(pl.col("returned"), pl.col("parcels")).alias("return_rate"),
            _ratio(pl.col("attempted"), pl.col("out_for_delivery")).alias("attempt_rate"),
            _ratio(pl.col("held"), pl.col("customs")).alias("hold_rate"),
            _ratio(pl.col("complete"), pl.col("parcels")).alias("trace_completeness"),
            _ratio(pl.col("unplanned"), pl.col("paid")).alias("unplanned_rate"),
        )
    )  # fmt: skip
    money_parts = pl.concat([
        _long(paid_orders, {"goods": pl.col("goods") - pl.col("discount"),
                            "freight": pl.col("freight"), "fees": pl.col("insurance")}),
        _long(period(store.declarations.join(paid_orders.select("order_id"), on="order_id")),
              {"duty": pl.col("duty"), "tax": pl.col("tax"), "fees": pl.col("fees")}),
        _long(period(store.variances), {"quoted": pl.col("quoted"),
                                        "variance": pl.col("abs_variance")}),
        _long(flows.filter(pl.col("code").is_in(LOGISTICS_CODES)), {"logistics": pl.col("amount")}),
        _long(flows.filter(pl.col("code").is_in(COMPENSATION_CODES)),
              {"compensation": pl.col("amount")}),
    ])  # fmt: skip
    sums = money.totals(money_parts, ["period", "part"])
    by_period = {r["period"]: r for r in rows.iter_rows(named=True)}
    out = []
    last = (until - start).days // days
    for k in range(last + 1):
        day = start + timedelta(days=k * days)
        row = by_period.get(day, {"orders": 0})
        out.append({"period": day, **_kpis(row, {p: v for (d, p), v in sums.items() if d == day},
                                           money)})  # fmt: skip
    return out


def _kpis(row: Mapping[str, Any], sums: Mapping[str, Decimal], money: _Money) -> dict[str, Any]:
    """One period's KPI values in KPI_KEYS order (None where a KPI has nothing to measure)."""
    paid = int(row.get("paid") or 0)
    part = {name: sums.get(name, Decimal(0)) for name in
            ("goods", "freight", "duty", "tax", "fees", "logistics", "compensation")}  # fmt: skip
    landed = sum((part[n] for n in ("goods", "freight", "duty", "tax", "fees")), Decimal(0))

    def per_order(value: Decimal) -> Decimal | None:
        return money.round(value / paid) if paid else None

    values: dict[str, Any] = {
        "orders": int(row.get("orders") or 0), "paid": paid,
        "parcels": int(row.get("parcels") or 0), "delivered": int(row.get("delivered") or 0),
        "gmv": money.round(part["goods"]),
        **{f"{n}_per_order": per_order(part[n]) for n in ("goods", "freight", "duty", "tax",
                                                          "fees")},
        "logistics_cost_per_order": per_order(part["logistics"]),
        "landed_cost_per_order": per_order(landed),
        "compensation_per_order": per_order(part["compensation"]),
        # mean |assessed - quoted| over the mean quote of the assessed declarations, both in
        # the report currency at the order day's rate (None: nothing assessed or quoted)
        "quote_variance_rate": float(sums["variance"] / sums["quoted"])
        if sums.get("quoted") else None,
    }  # fmt: skip
    for key in KPI_KEYS:
        if key not in values:
            value = row.get(key)
            values[key] = None if value is None else float(value)
    return {key: values[key] for key in KPI_KEYS}


# --- partners and the timeline --------------------------------------------------------------------
def _partners(flows: pl.DataFrame, parties: pl.DataFrame, money: _Money) -> list[dict[str, Any]]:
    """Each party's revenue (money into its own accounts from outside them) and cost (money out
    of them to outside) over the measured orders' transfers, in the reporting currency."""
    own_d = pl.col("debit_purpose").is_in(OWN_PURPOSES)
    own_c = pl.col("credit_purpose").is_in(OWN_PURPOSES)
    internal = own_d & own_c & (pl.col("debit_party") == pl.col("credit_party"))
    moves = pl.concat([
        flows.filter(own_c & ~internal).select(pl.col("credit_party").alias("party"),
                                               pl.lit("revenue").alias("side"), "currency", "day",
                                               "amount"),
        flows.filter(own_d & ~internal).select(pl.col("debit_party").alias("party"),
                                               pl.lit("cost").alias("side"), "currency", "day",
                                               "amount"),
    ])  # fmt: skip
    sums = money.totals(moves, ["party", "side"])
    known = {r["party"]: r for r in parties.iter_rows(named=True)}
    out = []
    for party in sorted({p for p, _side in sums}):
        facts = known.get(party, {"name": party, "roles": ""})
        roles = [r for r in str(facts["roles"] or "").split(",") if r]
        role = next((r for r in ROLE_ORDER if r in roles), roles[0] if roles else "")
        revenue = sums.get((party, "revenue"), Decimal(0))
        cost = sums.get((party, "cost"), Decimal(0))
        out.append({"party": party, "name": facts["name"], "role": role,
                    "revenue": money.round(revenue), "cost": money.round(cost),
                    "profit": money.round(revenue - cost)})  # fmt: skip
    rank = {r: i for i, r in enumerate(ROLE_ORDER)}
    return sorted(out, key=lambda p: (rank.get(p["role"], len(rank)), p["party"]))


def _timeline(store: _Store, start: date, until: date) -> list[dict[str, Any]]:
    """Per calendar day (UTC) from ``start`` to ``until``: how many parcel events of each kind
    the trace record holds (a bag's event counts once for each parcel inside it)."""
    kind = pl.col("step").replace_strict(
        {s.value: name for name, steps in _TIMELINE.items() for s in steps},
        default=None, return_dtype=pl.String,
    )  # fmt: skip
    counts = (
        store.events.with_columns(
            kind.alias("kind"),
            pl.from_epoch(pl.col("event_ms"), time_unit="ms").dt.date().alias("event_day"))
        .filter(pl.col("kind").is_not_null() & pl.col("event_day").is_between(start, until))
        .group_by("event_day", "kind").len()
    )  # fmt: skip
    found = {(d, k): int(n) for d, k, n in counts.iter_rows()}
    days = [start + timedelta(days=i) for i in range((until - start).days + 1)]
    return [{"day": d, **{k: found.get((d, k), 0) for k in TIMELINE_KEYS}} for d in days]
