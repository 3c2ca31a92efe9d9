"""The demo: one day of the demo world's orders, followed through the platform for three weeks.

The clock starts on the order day (three weeks before now by default) and runs up to now, so
every record lies in the past and each parcel's timeline reads true. The summary is a list of
sections; each counter says what it counts and is added up from the use cases' own results
(``tests/simulation`` checks every one against a query of the store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from xborder.bootstrap import Platform
from xborder.domain.clock import SettableClock
from xborder.domain.money import FxRate, FxTable, Money
from xborder.domain.world import World
from xborder.services.queries import store_counts
from xborder.services.settlement import balances
from xborder.services.trace import Verify, verify
from xborder.services.world import read_world
from xborder.simulation.scenario import Progress, Scenario, Tally, run_scenario

DEMO_WEEKS = 3


@dataclass(frozen=True, slots=True)
class DemoSection:
    title: str
    summary: dict[str, Any]
    table: list[dict[str, Any]] = field(default_factory=list)


def demo_clock(now: datetime, order_day: date | None = None) -> tuple[SettableClock, date]:
    """The demo's clock, set at the start of the order day (default: three weeks before now)."""
    day = order_day or (now - timedelta(weeks=DEMO_WEEKS)).date()
    return SettableClock(datetime.combine(day, time(0), tzinfo=UTC)), day


def run_demo(
    platform: Platform, clock: SettableClock, *, orders: int = 10_000, seed: int = 7,
    order_day: date, until: datetime, progress: Progress | None = None,
) -> list[DemoSection]:  # fmt: skip
    world = read_world()
    started = clock.now()
    tally = run_scenario(platform, clock, world, Scenario(orders, seed, order_day, until),
                         progress)  # fmt: skip
    checked = verify(platform.uow(), Verify(deep=False))
    counts = store_counts(platform.uow())
    return [
        DemoSection("Simulated time", {
            "world": world.meta.name, "from": started.isoformat(timespec="minutes"),
            "to": clock.now().isoformat(timespec="minutes"), "work_cycles": tally.cycles,
            "seed": seed,
        }),
        _orders(tally, counts),
        _customs(tally),
        _parcels(tally, counts),
        DemoSection("Trace ledger", {
            "events_written": tally.events, "ledger_events": checked.events,
            "signed_batches": checked.batches, "verified": checked.ok,
            "first_break": str(checked.first) if checked.first else "-",
        }),
        _money(platform, tally, world, clock.now().date()),
    ]  # fmt: skip


def _orders(tally: Tally, counts: dict[str, dict[str, int]]) -> DemoSection:
    reached = tally.orders_reached
    now = [{"order status now": s, "orders": n} for s, n in sorted(counts["orders"].items())]
    return DemoSection("Orders", {
        "generated": tally.generated, "captured": tally.captured,
        "already_stored": tally.already_stored, "rejected": tally.rejected,
        "paid": tally.orders_paid, "expired_unpaid": tally.expired,
        "planned": tally.planned, "shipped": reached.get("shipped", 0),
        "delivered": reached.get("delivered", 0), "lost": reached.get("lost", 0),
        "returned": reached.get("returned", 0),
    }, now)  # fmt: skip


def _customs(tally: Tally) -> DemoSection:
    return DemoSection("Customs", {
        "declared": tally.declared, "already_declared": tally.already_declared,
        "not_modelled": tally.not_modelled, "declare_errors": tally.declare_errors,
        "receipts_applied": tally.receipts, "assessed": tally.assessed,
        "cn_three_document_match": ", ".join(f"{k} {v}" for k, v in sorted(tally.match.items()))
        or "none",
        "match_examples": " | ".join(tally.match_examples[:2]) or "-",
    })  # fmt: skip


def _parcels(tally: Tally, counts: dict[str, dict[str, int]]) -> DemoSection:
    reached = tally.reached
    summary: dict[str, Any] = {
        "packed": tally.packed, "bags": tally.bags,
        "departed": reached.get("departed", 0), "import_cleared": reached.get("import_cleared", 0),
        "delivered": reached.get("delivered", 0), "damaged": reached.get("damaged", 0),
        "lost": reached.get("lost", 0), "returned": reached.get("returned", 0),
    }  # fmt: skip
    if tally.unplanned_reasons:
        summary["not_planned_because"] = "; ".join(
            f"{k}: {v}" for k, v in sorted(tally.unplanned_reasons.items())
        )
    table = [{"parcel status now": s, "parcels": n} for s, n in sorted(counts["parcels"].items())]
    return DemoSection("Parcels", summary, table)


ROLE_ORDER = (
    "seller",
    "platform",
    "payment_provider",
    "logistics_provider",
    "warehouse_operator",
    "last_mile_carrier",
    "customs_broker",
    "customs",
    "buyers",
)


def _money(platform: Platform, tally: Tally, world: World, on: date) -> DemoSection:
    """What each kind of party holds at the end, in CNY at the world's rates (a party's own
    accounts and currencies: ``xborder settle statement PARTY``)."""
    fx = FxTable.of(FxRate(e.date, e.base, e.quote, e.rate, e.source) for e in world.fx)
    role_of = {p.id: min(r.value for r in p.roles) if len(p.roles) == 1 else
               next(r for r in ROLE_ORDER if r in {x.value for x in p.roles})
               for p in world.parties}  # fmt: skip
    totals: dict[str, tuple[set[str], Money]] = {}
    for r in balances(platform.uow()).iter_rows(named=True):
        party = str(r["party"])
        role = role_of.get(party, "customs" if party.startswith("customs-") else party)
        amount = Money.from_minor(int(r["balance"]), str(r["currency"]))
        cny = amount if amount.currency == "CNY" else fx.convert(amount, "CNY", on)
        parties, total = totals.get(role, (set(), Money.of(0, "CNY")))
        totals[role] = (parties | {party}, total + cny)
    table = [
        {"who": role.replace("_", " "), "parties": len(parties),
         "balance (CNY equiv.)": str(total.rounded())}
        for role in sorted(totals, key=lambda x: ROLE_ORDER.index(x) if x in ROLE_ORDER else 99)
        for parties, total in [totals[role]]
    ]  # fmt: skip
    return DemoSection("Money (settlement ledger)", dict(sorted(tally.money.items())), table)


@dataclass(frozen=True, slots=True)
class DemoComparison:
    """The demo's closing study: the same buyers served siloed and integrated."""

    rows: list[dict[str, Any]]
    kpis_json: Path
    report: Path


COMPARED = (
    ("delivery_days_mean", "delivery days, mean"), ("on_time_rate", "on time"),
    ("hold_rate", "held at customs"), ("trace_completeness", "unbroken record"),
    ("logistics_cost_per_order", "logistics cost/order (CNY)"),
)  # fmt: skip


def _shown(value: Any, rate: bool) -> str:
    return f"{float(value):.1%}" if rate else f"{Decimal(str(value)):,.2f}"


def compare_scenarios(
    first_day: date, out: Path, *, orders_per_day: int = 100, days: int = 3, drain: int = 14,
    seed: int = 7, progress: Progress | None = None,
) -> DemoComparison:  # fmt: skip
    """Siloed against integrated on throw-away stores (two Dask workers), with the report."""
    from xborder.simulation.config import Demand, preset
    from xborder.simulation.report import write_report
    from xborder.simulation.study import Study, run_study

    demand = Demand(orders_per_day=orders_per_day, peaks=())
    configs = tuple(preset(n).model_copy(update={"demand": demand})
                    for n in ("siloed", "integrated"))  # fmt: skip
    study = Study(configs, seed, 1, first_day, days, drain, period_days=days)
    kpis = run_study(study, progress=progress)
    files = write_report(kpis, out)
    rows = []
    for key, label in COMPARED:
        found = {r["kpi"]: r for r in kpis["comparison"]}.get(key)
        if found is None:
            continue
        rate = key.endswith("_rate") or key == "trace_completeness"
        rows.append({"KPI": label, "siloed": _shown(found["siloed"], rate),
                     "integrated": _shown(found["integrated"], rate),
                     "better": "yes" if found["better"] else "no"})  # fmt: skip
    return DemoComparison(rows, files.kpis_json, files.html)
