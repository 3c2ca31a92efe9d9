"""What the simulator's speed-ups must not change: results independent of row order, raw store
values converted exactly as SQLAlchemy would, and remembered draws equal to fresh ones."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import polars as pl
from polars.testing import assert_frame_equal

from xborder.services.kpis import _exact_mean
from xborder.services.ports import AwaitingPayment
from xborder.simulation.parties import SimulatedBuyers
from xborder.store.parcels_repo import PARCEL_COLUMNS, _frame

DAY_US = 86_400_000_000


def test_the_exact_mean_does_not_depend_on_row_order() -> None:
    rng = random.Random(7)
    values = [rng.randrange(1, 40 * DAY_US) for _ in range(5_000)] + [None] * 17
    total = sum(v for v in values if v is not None)  # exact: the sum does not round
    means = set()
    for _ in range(5):
        rng.shuffle(values)
        frame = pl.DataFrame({"g": [1] * len(values), "x": values},
                             schema={"g": pl.Int64, "x": pl.Int64})  # fmt: skip
        means.add(frame.group_by("g").agg(_exact_mean(pl.col("x"), DAY_US)).item(0, "x"))
    assert means == {float(total) / 5_000 / DAY_US}  # the same bits in any order
    assert abs(means.pop() - float(Fraction(total, 5_000 * DAY_US))) < 1e-12
    empty = pl.DataFrame({"g": [1], "x": [None]}, schema={"g": pl.Int64, "x": pl.Int64})
    assert empty.group_by("g").agg(_exact_mean(pl.col("x"), DAY_US)).item(0, "x") is None


def _row(times: list[object], promised: object, declared: object) -> tuple[object, ...]:
    named = {"id": "PCL1", "order_id": 1, "sscc": "0061", "tracking_no": "XB1",
             "status": "departed", "consolidation_id": None, "lane_id": "ln", "last_mile_id": "lm",
             "warehouse_id": "wh", "destination_country": "JP", "promised_by": promised,
             "declared": declared}  # fmt: skip
    at = iter(times)
    return tuple(next(at) if c.endswith("_at") else named[c] for c in PARCEL_COLUMNS)


def test_raw_sqlite_values_become_the_frame_sqlalchemy_values_give() -> None:
    """SQLite hands the untyped columns back as text and 0/1 (naive text, or text with an
    offset when written with one); SQLAlchemy would have made them datetimes, dates and bools."""
    naive = datetime(2026, 11, 19, 4, 12, 32, 165382)
    aware = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    typed = [
        _row([naive, naive, aware, None, None], date(2026, 11, 17), True),
        _row([naive + timedelta(hours=1), naive, None, None, None], date(2026, 11, 18), False),
        _row([None, None, None, None, None], None, None),
    ]
    raw = [
        _row([str(naive), str(naive), "2026-11-10 09:00:00+00:00", None, None], "2026-11-17", 1),
        _row([str(naive + timedelta(hours=1)), str(naive), None, None, None], "2026-11-18", 0),
        _row([None, None, None, None, None], None, None),
    ]
    assert_frame_equal(_frame(raw), _frame(typed))
    frame = _frame(raw)
    assert frame.schema["status_at"] == pl.Datetime("us", "UTC")
    assert frame.get_column("declared").to_list() == [True, False, None]
    assert _frame([]).columns == list(PARCEL_COLUMNS)


def test_remembered_payment_draws_are_the_fresh_ones() -> None:
    placed = datetime(2026, 11, 10, 8, tzinfo=UTC)
    orders = [AwaitingPayment(i, "web", f"E{i}", 1_000 + i, "EUR", placed, "Buyer", None)
              for i in range(1, 200)]  # fmt: skip
    until = placed + timedelta(hours=1)
    asked = SimulatedBuyers(7, "pay-1")
    first = asked.collect(orders, until)
    assert asked.collect(orders, until) == first  # answered from memory
    assert SimulatedBuyers(7, "pay-1").collect(orders, until) == first  # as drawn afresh
    assert 150 < len(first) < 199  # most pay, some never do (share 0.9)
    early = SimulatedBuyers(7, "pay-1").collect(orders, placed + timedelta(minutes=10))
    assert {p.transaction_id for p in early} < {p.transaction_id for p in first}
