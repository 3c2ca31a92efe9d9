"""Monthly partitions of trace events and ledger transfers on the suite's real PostgreSQL server:
the conversion keeps every row, the history query, ``trace verify`` and the ledger's verify stay
correct with rows in several partitions, uniqueness and the append-only guards still hold across
partitions, and SQLite is refused with a message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from tests.conftest import _postgres_url
from tests.pg_server import PostgresServer
from tests.trace.conftest import BAG, P1, P2, fill
from xborder.cli.main import app
from xborder.domain.clock import SettableClock
from xborder.domain.errors import Conflict, DomainError, InvalidValue
from xborder.services import trace as svc
from xborder.services.partitions import (
    EnsurePartitions,
    ListPartitions,
    ensure_partitions,
    list_partitions,
)
from xborder.services.settlement import PostTransfers, post_transfers
from xborder.services.settlement_verify import VerifyLedger, verify_ledger
from xborder.settlement.ledger import AccountKey, Kind, Purpose, Transfer
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.lifecycle import BTT_ORDER

P3 = sscc_link("012345670000000048")
NOV = datetime(2026, 11, 23, 12, tzinfo=UTC)  # the trace fixtures' flow is in November 2026
DEC = datetime(2026, 12, 15, 12, tzinfo=UTC)
JAN = datetime(2027, 1, 10, 12, tzinfo=UTC)


@pytest.fixture
def pg(postgres: PostgresServer) -> Iterator[Engine]:
    engine = make_engine(_postgres_url(postgres))
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XBORDER_KEYS_DIR", str(tmp_path / "keys"))


def _partition(engine: Engine, clock: SettableClock, ahead: int = 0) -> Any:
    return ensure_partitions(UnitOfWork(engine, clock), EnsurePartitions(ahead, count=True))


def _rows_by_partition(engine: Engine, table: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")
        ).all()
    return {str(name): int(n) for name, n in rows}


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _object_id(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM trace_objects WHERE key = :k"), {"k": key}
            ).scalar_one()
        )


def _history(engine: Engine, key: str) -> list[tuple[Any, ...]]:
    with UnitOfWork(engine) as uow:
        rows = svc.history_rows(uow, _object_id(engine, key))
    return sorted(tuple(r) for r in rows)


def _verify(engine: Engine) -> svc.VerifyReport:
    return svc.verify(UnitOfWork(engine), svc.Verify(deep=True, key_files=False))


def _capture(engine: Engine, clock: SettableClock, rows: list[dict[str, Any]]) -> None:
    with UnitOfWork(engine, clock) as uow:
        svc.capture(uow, capture_frame(rows))
        uow.commit()


def test_trace_ledger_across_partitions(pg: Engine) -> None:
    clock = SettableClock(NOV)
    fill(pg, clock)  # two parcels and a bag, 8 events in November
    before = {key: _history(pg, key) for key in (P1, P2, BAG)}
    timeline_before = svc.show(UnitOfWork(pg, clock), svc.ShowParcel("XB0000002"))

    result = _partition(pg, clock, ahead=1)
    assert set(result.converted) == {"trace_events", "ledger_transfers"}
    assert "trace_events_2026_11" in result.created and "trace_events_2026_12" in result.created
    assert _rows_by_partition(pg, "trace_events") == {"trace_events_2026_11": 8}
    assert {key: _history(pg, key) for key in (P1, P2, BAG)} == before  # nothing lost or changed
    assert _verify(pg).ok

    # December: P2 is delivered (its own month); January: a new parcel, no partition yet
    clock.set(JAN)
    with UnitOfWork(pg, clock) as uow:
        svc.register_objects(uow, [svc.ObjectSpec(P3, tracking_no="XB0000003", sscc=P3[-18:],
                                                  participants=("shop-a",))])  # fmt: skip
        uow.commit()
    _capture(pg, clock, [
        dict(object_key=P2, step="delivered", event_time=DEC, tz_offset="+00:00",
             party_id="lastmile"),
        dict(object_key=P3, step="order_placed", event_time=JAN - timedelta(days=2),
             tz_offset="+08:00", party_id="shop-a",
             transactions=[{"type": BTT_ORDER, "id": "https://xborder.dev/tx/order/3"}]),
        dict(object_key=P3, step="picked_packed", event_time=JAN - timedelta(days=1),
             tz_offset="+08:00", party_id="shop-a"),
    ])  # fmt: skip
    assert _rows_by_partition(pg, "trace_events") == {
        "trace_events_2026_11": 8, "trace_events_2026_12": 1, "trace_events_default": 2,
    }  # fmt: skip
    assert _verify(pg).ok

    # the command run in January splits January out of the DEFAULT partition
    again = _partition(pg, clock, ahead=2)
    assert again.converted == ()
    assert {"trace_events_2027_01", "trace_events_2027_03"} <= set(again.created)
    assert _rows_by_partition(pg, "trace_events") == {
        "trace_events_2026_11": 8, "trace_events_2026_12": 1, "trace_events_2027_01": 2,
    }  # fmt: skip
    counted = {p.name: p.rows for p in again.partitions if p.table == "trace_events"}
    assert counted["trace_events_default"] == 0 and counted["trace_events_2027_01"] == 2

    # history across months: P2's own events (November, December) and the bag's while inside
    after = _history(pg, P2)
    assert set(before[P2]) < set(after) and len(after) == len(before[P2]) + 1
    timeline = svc.show(UnitOfWork(pg, clock), svc.ShowParcel("XB0000002"))
    assert len(timeline.points) == len(timeline_before.points) + 1
    assert timeline.points[-1].status == "Delivered"
    assert len(_history(pg, P3)) == 2
    report = _verify(pg)
    assert report.ok, [str(b) for b in report.breaks]
    assert report.events == 11
    assert _count(pg, "trace_event_keys") == 11  # the capture's COPY fired the key trigger

    # the store still refuses a second event id or a fork of a chain, whatever the month
    columns = ("id, object_id, seq, batch_id, party_id, event_type, event_time_ms, hash, prev, "
               "chain, document")  # fmt: skip
    with pg.connect() as conn:
        first = conn.execute(text(f"SELECT {columns} FROM trace_events ORDER BY id LIMIT 1")).one()
    far = int(datetime(2027, 3, 5, tzinfo=UTC).timestamp() * 1000)
    for changed in ({"id": 999_999}, {"object_id": 424_242}):  # same (object, seq); same id
        row = dict(first._mapping) | changed | {"event_time_ms": far}
        with pytest.raises(DBAPIError, match="trace_event_keys"), pg.begin() as conn:
            conn.execute(
                text(f"INSERT INTO trace_events ({columns}) VALUES "
                     f"({', '.join(':' + c.strip() for c in columns.split(','))})"),
                row,
            )  # fmt: skip

    # tampering with a row in a later partition is still found
    with pg.begin() as conn:
        conn.execute(text("UPDATE trace_events SET document = replace(document, 'delivered', "
                          "'departed') WHERE event_time_ms >= :d"),
                     {"d": int(DEC.timestamp() * 1000) - 1})  # fmt: skip
    assert not _verify(pg).ok


def _accounts(ns: str) -> list[AccountKey]:
    return [AccountKey(f"{ns}-buyer", Purpose.FUNDS, "EUR"),
            AccountKey(f"{ns}-op", Purpose.ESCROW, "EUR"),
            AccountKey(f"{ns}-seller", Purpose.PROCEEDS, "EUR")]  # fmt: skip


def _post(engine: Engine, clock: SettableClock, batch: list[Transfer]) -> None:
    with UnitOfWork(engine, clock) as uow:
        post_transfers(uow, PostTransfers(batch))
        uow.commit()


def test_settlement_ledger_across_partitions(pg: Engine) -> None:
    clock = SettableClock(NOV)
    buyer, escrow, seller = _accounts("l")
    _post(pg, clock, [
        Transfer("fund", buyer, escrow, 1000, "EUR", "fund", NOV),
        Transfer("hold", escrow, seller, 600, "EUR", "release", NOV, Kind.PENDING),
        Transfer("hold2", escrow, seller, 100, "EUR", "release", NOV, Kind.PENDING),
    ])  # fmt: skip
    result = _partition(pg, clock)
    assert "ledger_transfers" in result.converted
    assert _rows_by_partition(pg, "ledger_transfers") == {"ledger_transfers_2026_11": 3}

    clock.set(DEC)
    _post(pg, clock, [
        Transfer("hold.post", None, None, 550, "EUR", "confirm", DEC, Kind.POST, "hold"),
        Transfer("more", buyer, escrow, 50, "EUR", "fund", DEC),
    ])  # fmt: skip
    clock.set(JAN)
    _post(pg, clock, [Transfer("hold2.void", None, None, 0, "EUR", "void", JAN, Kind.VOID,
                               "hold2")])  # fmt: skip
    assert _rows_by_partition(pg, "ledger_transfers") == {
        "ledger_transfers_2026_11": 3, "ledger_transfers_default": 3,
    }  # fmt: skip
    check = verify_ledger(UnitOfWork(pg), VerifyLedger())
    assert check.ok and check.transfers == 6
    assert _count(pg, "ledger_transfer_keys") == 6  # the posting's COPY fired the key trigger
    _partition(pg, clock)  # January and December come out of DEFAULT
    assert _rows_by_partition(pg, "ledger_transfers") == {
        "ledger_transfers_2026_11": 3, "ledger_transfers_2026_12": 2,
        "ledger_transfers_2027_01": 1,
    }  # fmt: skip
    check = verify_ledger(UnitOfWork(pg), VerifyLedger())
    assert check.ok and (check.transfers, check.accounts) == (6, 3)

    # idempotent across months: the November transfer sent again in January is not re-posted
    _post(pg, clock, [Transfer("fund", buyer, escrow, 1000, "EUR", "fund", NOV)])
    with pytest.raises(Conflict):
        _post(pg, clock, [Transfer("fund", buyer, escrow, 999, "EUR", "fund", NOV)])
    with pytest.raises(DomainError):  # the kernel: the pending was already posted
        _post(pg, clock, [Transfer("hold.void", None, None, 0, "EUR", "v", JAN, Kind.VOID,
                                   "hold")])  # fmt: skip
    assert verify_ledger(UnitOfWork(pg), VerifyLedger()).transfers == 6

    # the store's own guards, below the kernel: ids, one resolution per pending, append-only
    insert = (
        "INSERT INTO ledger_transfers (id, debit, credit, amount, currency, kind, "
        "pending_id, code, at) VALUES (:id, 1, 2, 0, 'EUR', :kind, :pending, 'x', :at)"
    )
    refused: list[tuple[dict[str, Any], str]] = [
        ({"id": "fund", "kind": "posted", "pending": None, "at": JAN}, "ledger_transfer_keys"),
        ({"id": "x.void", "kind": "void", "pending": "hold", "at": DEC}, "pending_id"),
    ]
    for params, match in refused:
        with pytest.raises(DBAPIError, match=match), pg.begin() as conn:
            conn.execute(text(insert), params)
    for statement in ("UPDATE ledger_transfers SET amount = amount + 1",
                      "DELETE FROM ledger_transfers_2026_12",
                      "TRUNCATE ledger_transfers_2026_11", "TRUNCATE ledger_transfers",
                      "DELETE FROM ledger_transfer_keys"):  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only"), pg.begin() as conn:
            conn.execute(text(statement))
    assert verify_ledger(UnitOfWork(pg), VerifyLedger()).ok


def test_listing_and_ahead_bounds(pg: Engine) -> None:
    clock = SettableClock(NOV)
    assert list_partitions(UnitOfWork(pg), ListPartitions()) == ()  # not partitioned yet
    result = _partition(pg, clock, ahead=3)
    months = [p.first for p in result.partitions if p.table == "ledger_transfers"]
    assert months == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1),
                      None]  # the DEFAULT partition last  # fmt: skip
    assert _partition(pg, clock, ahead=3).created == ()  # idempotent
    assert len(list_partitions(UnitOfWork(pg), ListPartitions())) == 10
    with pytest.raises(InvalidValue, match="ahead"):
        _partition(pg, clock, ahead=-1)


def test_sqlite_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(InvalidValue, match="PostgreSQL"):
        _partition(sqlite_engine, SettableClock(NOV))


runner = CliRunner()


def test_cli(pg: Engine, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XBORDER_DATABASE_URL", pg.url.render_as_string(hide_password=False))
    done = runner.invoke(app, ["store", "partitions", "--ahead", "2", "--count"])
    assert done.exit_code == 0, done.output
    assert "trace_events: now partitioned by month" in done.output
    assert "default (the rest)" in done.output
    assert max(len(line) for line in done.output.splitlines()) <= 80
    again = runner.invoke(app, ["store", "partitions", "--ahead", "2", "--json"])
    assert again.exit_code == 0 and '"created": []' in again.output
    monkeypatch.setenv("XBORDER_DATABASE_URL", str(sqlite_engine.url))
    refused = runner.invoke(app, ["store", "partitions"])
    assert refused.exit_code == 2
    assert "PostgreSQL" in refused.output and "Traceback" not in refused.output
