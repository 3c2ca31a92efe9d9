"""The simulator: scenario files, demand, disruptions, replenishment, switches and determinism.

The runs here are small (tens of orders a day for a few days) but go through every real engine;
the switch tests flip one switch of the integrated preset at a time, with the same seed (the same
buyers place the same orders), and check that the KPI the switch is about moves the way the
mechanism says it must.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from xborder.domain.errors import InvalidValue
from xborder.domain.lifecycle import Step
from xborder.services.inventory import StockPosition
from xborder.services.ports import Shipment
from xborder.services.world import read_world
from xborder.simulation.config import (
    SWITCHES,
    Demand,
    Disruption,
    Peak,
    Replenishment,
    load_scenario,
    parse_scenario,
    preset,
)
from xborder.simulation.parties import SimulatedCarriers, SimulatedCustoms
from xborder.simulation.replenishment import operated_world, reorders
from xborder.simulation.replications import Replication, run_replication
from xborder.simulation.scenario import daily_orders

FIRST = date(2026, 11, 2)  # a Monday, after the demo world's FX fixing of 2026-11-02
SMALL = Demand(orders_per_day=40, peaks=())


def _rep(**switches: bool) -> Replication:
    config = preset("integrated").model_copy(update={"demand": SMALL}).with_switches(**switches)
    return Replication(config, seed=11, first_day=FIRST, days=3, drain_days=12, period_days=3)


@pytest.fixture(scope="module")
def integrated() -> dict[str, Any]:
    return run_replication(_rep())


# --- scenario files -----------------------------------------------------------------------------
def test_presets_switch_everything_on_or_off() -> None:
    assert all(getattr(preset("integrated").switches, s) for s in SWITCHES)
    assert not any(getattr(preset("siloed").switches, s) for s in SWITCHES)
    with pytest.raises(InvalidValue, match="unknown preset"):
        preset("hybrid")


def test_a_scenario_file_starts_from_its_base_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "peak.toml"
    path.write_text(
        'name = "siloed-with-bonded"\nbase = "siloed"\n[switches]\nwarehouses = true\n'
        "[demand]\norders_per_day = 75\n"
        '[[disruptions]]\nkind = "port_closure"\nstart = 2\ndays = 3\ncountry = "US"\n',
        encoding="utf-8",
    )
    config = load_scenario(str(path))
    assert config.name == "siloed-with-bonded"
    assert config.switches.warehouses and not config.switches.shared_data
    assert config.demand.orders_per_day == 75
    assert config.demand.peaks  # untouched tables keep the preset's defaults
    assert config.disruptions[0].kind == "port_closure"


@pytest.mark.parametrize(
    ("raw", "place"),
    [
        ({"switches": {"escrow": "maybe"}}, "switches.escrow"),
        ({"demand": {"orders_per_day": -1}}, "demand.orders_per_day"),
        ({"disruptions": [{"kind": "meteor", "start": 0, "days": 1}]}, "disruptions.0.kind"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_scenario_names_the_field(raw: dict[str, Any], place: str) -> None:
    with pytest.raises(InvalidValue, match=place.replace(".", r"\.")):
        parse_scenario(raw, "study.toml")


def test_a_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="no such preset or file"):
        load_scenario(str(tmp_path / "nope.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[switches\n", encoding="utf-8")
    with pytest.raises(InvalidValue, match="not valid TOML"):
        load_scenario(str(broken))


# --- demand -------------------------------------------------------------------------------------
def test_black_friday_is_the_day_after_the_fourth_thursday_of_november() -> None:
    friday = Peak(name="bf", factor=2, rule="black_friday")
    assert friday.starts(2026) == date(2026, 11, 27)
    assert friday.starts(2025) == date(2025, 11, 28)
    assert friday.starts(2024) == date(2024, 11, 29)


def test_demand_follows_weekdays_and_peaks() -> None:
    demand = Demand(orders_per_day=100, weekly=(1, 1, 1, 1, 1, 0.5, 1))
    assert demand.expected(date(2026, 11, 7)) == pytest.approx(50)  # a Saturday
    assert demand.expected(date(2026, 11, 11)) == pytest.approx(300)  # Double 11 (Wednesday)
    assert demand.expected(date(2026, 11, 30)) == pytest.approx(250)  # Cyber Monday
    assert demand.expected(date(2026, 12, 2)) == pytest.approx(100)


def test_daily_orders_are_seeded_and_scatter_around_the_expected_count() -> None:
    demand = Demand(orders_per_day=200, weekly=(1,) * 7, peaks=())
    days = [FIRST + timedelta(days=d) for d in range(200)]
    counts = [daily_orders(demand, 3, d) for d in days]
    assert counts == [daily_orders(demand, 3, d) for d in days]
    assert counts != [daily_orders(demand, 4, d) for d in days]
    assert 190 < sum(counts) / len(counts) < 210
    assert len(set(counts)) > 10  # a draw, not a constant
    exact = demand.model_copy(update={"poisson": False})
    assert {daily_orders(exact, 3, d) for d in days} == {200}


# --- the outside world's disruptions ------------------------------------------------------------
def _bag(lane_id: str, day: date) -> Shipment:
    since = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
    return Shipment("BAG1", "bag", Step.CONSOLIDATED.value, since, lane_id, None, day)


def _departed(carriers: SimulatedCarriers, bag: Shipment) -> datetime:
    far = bag.since + timedelta(days=60)
    return next(e.at for e in carriers.track([bag], far) if e.step == Step.DEPARTED)


def test_a_closed_port_holds_departures_until_it_reopens() -> None:
    world = read_world()
    lane = next(ln for ln in world.lanes if ln.dest_country == "US")
    bag = _bag(lane.id, FIRST + timedelta(days=1))
    normal = _departed(SimulatedCarriers(world, 1), bag)
    closure = Disruption(kind="port_closure", start=0, days=5, country="US")
    closed = _departed(SimulatedCarriers(world, 1, (closure,), FIRST), bag)
    assert normal.date() <= FIRST + timedelta(days=2)
    assert closed.date() >= FIRST + timedelta(days=5) > normal.date()
    other = Disruption(kind="port_closure", start=0, days=5, lane="no-such-lane")
    assert _departed(SimulatedCarriers(world, 1, (other,), FIRST), bag) == normal


def test_a_delayed_flight_leaves_late_and_a_loose_handover_misses_the_cutoff() -> None:
    world = read_world()
    lane = world.lanes[0]
    bag = _bag(lane.id, FIRST + timedelta(days=1))
    normal = _departed(SimulatedCarriers(world, 1), bag)
    delay = Disruption(kind="delayed_departure", start=0, days=3, lane=lane.id, hours=18)
    assert _departed(SimulatedCarriers(world, 1, (delay,), FIRST), bag) == normal + timedelta(
        hours=18
    )
    loose = SimulatedCarriers(world, 1, loose=True, loose_delay_hours=24)
    assert _departed(loose, bag) == normal + timedelta(hours=24)


def test_a_customs_slowdown_stretches_decisions_in_its_country_only() -> None:
    since = datetime(2026, 11, 3, 8, tzinfo=UTC)
    parcel = Shipment("TRK1", "parcel", "arrived", since, None, None, None, 1, "DE")
    slow = Disruption(kind="customs_slowdown", start=0, days=7, country="DE", factor=3)
    normal = SimulatedCustoms(5).decide([parcel], since + timedelta(days=30))[0]
    slowed = SimulatedCustoms(5, disruptions=(slow,), first_day=FIRST).decide(
        [parcel], since + timedelta(days=30)
    )[0]
    assert slowed.at - since == 3 * (normal.at - since)
    elsewhere = replace(parcel, country="FR")
    assert (
        SimulatedCustoms(5, disruptions=(slow,), first_day=FIRST)
        .decide([elsewhere], since + timedelta(days=30))[0]
        .at
        == SimulatedCustoms(5).decide([elsewhere], since + timedelta(days=30))[0].at
    )


def test_document_errors_are_held_by_customs() -> None:
    since = datetime(2026, 11, 3, 8, tzinfo=UTC)
    parcels = [Shipment(f"T{i}", "parcel", "arrived", since, None, None, None, i, "DE")
               for i in range(400)]  # fmt: skip
    clean = SimulatedCustoms(5, hold=0, inspect=0, reject=0).decide(parcels, since + timedelta(9))
    messy = SimulatedCustoms(5, hold=0, inspect=0, reject=0, document_error=0.25).decide(
        parcels, since + timedelta(days=9)
    )
    assert {o.step for o in clean} == {Step.IMPORT_RELEASED}
    held = sum(o.step == Step.IMPORT_HELD for o in messy)
    assert 60 < held < 140


def test_an_unconnected_carrier_reports_out_for_delivery_only_with_the_next_scan() -> None:
    world = read_world()
    carrier = world.last_mile[0]
    since = datetime(2026, 11, 3, 8, tzinfo=UTC)
    parcel = Shipment("TRK9", "parcel", "import_cleared", since, None, carrier.id, None, 1)
    tracked = SimulatedCarriers(world, 2).track([parcel], since + timedelta(days=60))
    out_at = tracked[0].at
    assert tracked[0].step == Step.OUT_FOR_DELIVERY and len(tracked) == 2
    dark = SimulatedCarriers(world, 2, untracked=1.0)
    assert dark.track([parcel], out_at + timedelta(minutes=1)) == []
    assert dark.track([parcel], since + timedelta(days=60)) == tracked


# --- replenishment ------------------------------------------------------------------------------
def test_the_reorder_policy_orders_back_up_to_the_opening_stock() -> None:
    policy = Replenishment(reorder_point=0.4, lead_days={"bonded": 7})
    low = StockPosition("wh-b", "SKU1", "bonded", on_hand=50, reserved=20, inbound=0)
    fine = StockPosition("wh-b", "SKU2", "bonded", on_hand=90, reserved=0, inbound=0)
    coming = StockPosition("wh-b", "SKU3", "bonded", on_hand=10, reserved=0, inbound=80)
    opening = {("wh-b", "SKU1"): 100, ("wh-b", "SKU2"): 100, ("wh-b", "SKU3"): 100}
    notices = reorders([low, fine, coming], opening, policy, FIRST)
    assert [(n.sku, n.qty) for n in notices] == [("SKU1", 70)]
    assert notices[0].expected_at.date() == FIRST + timedelta(days=7)
    assert reorders([low], opening, policy.model_copy(update={"enabled": False}), FIRST) == ()


def test_without_the_warehouse_switch_no_stock_waits_near_the_buyer() -> None:
    world = read_world()
    siloed = operated_world(world, preset("siloed").switches)
    kinds = {w.kind.value for w in siloed.warehouses}
    assert not kinds & {"bonded", "overseas"} and "domestic" in kinds
    kept = {w.id for w in siloed.warehouses}
    assert all(i.warehouse in kept for i in siloed.inventory)
    assert operated_world(world, preset("integrated").switches) is world


# --- whole runs ---------------------------------------------------------------------------------
def test_a_run_is_deterministic(integrated: dict[str, Any]) -> None:
    again = run_replication(_rep())
    assert again == integrated
    assert integrated["overall"]["orders"] > 60
    assert integrated["overall"]["delivered"] > 0


@pytest.mark.parametrize(
    ("switch", "kpi", "worse"),
    [
        ("shared_data", "hold_rate", "higher"),
        ("warehouses", "delivery_days_mean", "higher"),
        ("consolidation", "delivery_days_mean", "higher"),
        ("full_tracking", "trace_completeness", "lower"),
        ("escrow", "compensation_per_order", "lower"),
    ],
)
def test_each_switch_moves_its_kpi(
    integrated: dict[str, Any], switch: str, kpi: str, worse: str
) -> None:
    off = run_replication(_rep(**{switch: False}))
    on_value, off_value = float(integrated["overall"][kpi]), float(off["overall"][kpi])
    assert (off_value > on_value) if worse == "higher" else (off_value < on_value), (
        f"{switch} off: {kpi} {off_value} against {on_value} with it on"
    )
    if switch == "consolidation":  # handed over loose: one shipment per line-haul parcel
        assert integrated["counts"]["bags"] < off["counts"]["bags"] <= off["overall"]["parcels"]
    if switch == "escrow":  # paid out on delivery: less time in escrow
        assert (
            off["overall"]["escrow_days_outstanding"]
            < integrated["overall"]["escrow_days_outstanding"]
        )


def test_the_shipped_peak_season_scenario_loads() -> None:
    config = load_scenario("peak-season")
    assert config.switches == preset("integrated").switches
    assert {d.kind for d in config.disruptions} == {
        "delayed_departure",
        "capacity_cut",
        "port_closure",
        "customs_slowdown",
    }
    assert config.demand.expected(date(2026, 11, 11)) > 2 * config.demand.orders_per_day
