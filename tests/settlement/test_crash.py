"""Settlement survives ``kill -9``: killed at several points and re-run, it completes the work and
leaves exactly the ledger an uninterrupted run leaves.

The store is a real scenario (the simulator's orders, payments, declarations, parcels, losses,
returns; settlement switched off while it runs, so all the money is left to settle). Settlement
runs in a subprocess that kills itself with SIGKILL at a named point (``XBORDER_CRASH_AT``, see
``xborder.settlement.crashpoints``): after its first batch is written, after the line-haul pay,
after the releases, in the middle of a loss compensation (its refund written, the custodian's
charge not yet), and right after the commit. After each kill the ledger is either untouched or
complete (never half a run); the final re-run completes it, and then:

- every paid and delivered order is released (its release reserved, and posted when the terms'
  auto-confirmation days have passed), every lost one compensated;
- no transfer id twice, no pending transfer resolved twice;
- every balance equals the sum of its transfers (``verify_ledger``);
- the ledger equals, transfer by transfer (id, accounts, amount, kind, code, time), that of an
  uninterrupted run on a copy of the same store; a further run posts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import create_engine, text

from tests.pg_server import PostgresServer
from xborder.bootstrap import bootstrap
from xborder.domain.clock import SettableClock
from xborder.services.settlement import VerifyLedger, verify_ledger
from xborder.services.world import read_world
from xborder.settlement.crashpoints import ENV
from xborder.simulation import scenario as sim
from xborder.store.engine import make_engine
from xborder.trace.signing import KeyStore

ORDERS, SEED = 1000, 7
ORDER_DAY = date(2026, 11, 10)
NOW = datetime.combine(ORDER_DAY + timedelta(days=21), time(15, 0), tzinfo=UTC)
PLATFORM = "pp-lianhe-pay"
AUTO_DAYS = 7
# where the run is killed, in this order, on one store (each kill is followed by the next run)
KILLS = (
    "posted",  # the first batch written (the captures), nothing committed
    "posted@partner.pay.lane",  # the line-haul freight written
    "posted@escrow.release",  # the releases reserved
    "posted@refund.loss",  # a loss compensation half-way: the refund written, not the charge
)
SETTLE = f"""
import sys
from datetime import datetime
from xborder.bootstrap import bootstrap
from xborder.domain.clock import SettableClock
from xborder.services.settlement import EscrowTerms, SettleLifecycle, SlaTerms, settle_lifecycle
platform = bootstrap(sys.argv[1], clock=SettableClock(datetime.fromisoformat({NOW.isoformat()!r})))
terms = EscrowTerms(platform={PLATFORM!r}, auto_confirm_days={AUTO_DAYS})
done = settle_lifecycle(platform.uow(), SettleLifecycle(terms, SlaTerms()))
print(done.transfers)
"""


@dataclass
class Scenario:
    """A store with the scenario's facts and no money settled; ``copy()`` gives a fresh one."""

    copy: Callable[[], str]


def _build(url: str, keys: Path) -> None:
    """The simulator's run on ``url``, with settlement switched off."""

    class Nothing:
        def counters(self) -> dict[str, int]:
            return {}

    engine = make_engine(url)
    clock = SettableClock(datetime.combine(ORDER_DAY, time(0), tzinfo=UTC))
    platform = bootstrap(engine=engine, clock=clock, keys=KeyStore(keys))
    with mock.patch.object(sim, "settle_lifecycle", lambda uow, command: Nothing()):
        sim.run_scenario(platform, clock, read_world(),
                         sim.Scenario(ORDERS, SEED, ORDER_DAY, NOW))  # fmt: skip
    platform.close()
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("crash")
    copies = iter(range(1000))
    if request.param == "sqlite":
        built = folder / "built.db"
        _build(f"sqlite:///{built}", folder / "keys")

        def sqlite_copy() -> str:
            path = folder / f"copy{next(copies)}.db"
            path.write_bytes(built.read_bytes())  # the last connection closed: WAL checkpointed
            return f"sqlite:///{path}"

        yield Scenario(sqlite_copy)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    admin = server.admin  # type: ignore[attr-defined]
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE xb_crash_built TEMPLATE xb_template"))
    _build(server.url("xb_crash_built"), folder / "keys")

    def postgres_copy() -> str:
        name = f"xb_crash_{next(copies)}"
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE xb_crash_built"))
        return str(server.url(name))

    yield Scenario(postgres_copy)


def _settle(url: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if crash_at is not None:
        env[ENV] = crash_at
    return subprocess.run([sys.executable, "-c", SETTLE, url], env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


LEDGER = """
SELECT t.id, d.party || ':' || d.purpose || ':' || d.currency,
       c.party || ':' || c.purpose || ':' || c.currency, t.amount, t.currency, t.kind,
       t.pending_id, t.code, t.order_id, t.at
FROM ledger_transfers t JOIN ledger_accounts d ON d.id = t.debit
JOIN ledger_accounts c ON c.id = t.credit ORDER BY t.id
"""


def _ledger(url: str) -> list[tuple[Any, ...]]:
    return [(*r[:-1], _utc(r[-1])) for r in _query(url, LEDGER)]


def _utc(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _count(url: str) -> int:
    return int(_query(url, "SELECT COUNT(*) FROM ledger_transfers")[0][0])


def _verified(url: str) -> bool:
    platform = bootstrap(url, migrate=False)
    try:
        return verify_ledger(platform.uow(), VerifyLedger()).ok
    finally:
        platform.close()


def test_killed_at_each_point_the_rerun_completes_the_same_ledger(scenario: Scenario) -> None:
    reference = scenario.copy()
    first = _settle(reference)
    assert first.returncode == 0, first.stderr
    expected = _ledger(reference)
    assert int(first.stdout.split()[-1]) == len(expected) > 5 * ORDERS
    codes = {row[7] for row in expected}
    assert {"escrow.release", "refund.loss", "sla.loss.seller", "partner.pay.lane"} <= codes

    crashed = scenario.copy()
    for point in KILLS:
        killed = _settle(crashed, point)
        assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-2000:])
        assert _count(crashed) == 0, point  # one run, one transaction: nothing half-settled
    killed = _settle(crashed, "committed@settle_lifecycle")  # dies right after its commit
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert _ledger(crashed) == expected  # acknowledged: all of it is there
    again = _settle(crashed)
    assert again.returncode == 0 and again.stdout.split()[-1] == "0", again.stderr

    got = _ledger(crashed)
    assert got == expected
    assert len({row[0] for row in got}) == len(got)  # no id twice
    resolved = [row[6] for row in got if row[6] is not None]
    assert len(set(resolved)) == len(resolved)  # no pending resolved twice
    assert _verified(crashed) and _verified(reference)


PAID_DELIVERED = """
SELECT o.id, p.delivered_at FROM orders o JOIN parcels p ON p.order_id = o.id
WHERE p.status = 'delivered'
AND (SELECT SUM(amount_minor) FROM payments y WHERE y.order_id = o.id)
    >= o.goods_minor + o.freight_minor + o.insurance_minor - o.discount_minor
"""


def test_every_paid_and_delivered_order_is_released_after_a_crash(scenario: Scenario) -> None:
    url = scenario.copy()
    assert _settle(url, "posted@escrow.release").returncode == -9
    assert _settle(url).returncode == 0
    delivered = _query(url, PAID_DELIVERED)
    assert len(delivered) > ORDERS // 2
    ids = {row[0] for row in _query(url, "SELECT id FROM ledger_transfers")}
    unreleased = [o for o, _ in delivered if f"o{o}:release" not in ids]
    assert unreleased == []
    due = [o for o, at in delivered if _utc(at) <= NOW - timedelta(days=AUTO_DAYS)]
    assert due and [o for o in due if f"o{o}:release.post" not in ids] == []
    lost = _query(url, "SELECT order_id FROM parcels WHERE status = 'lost'")
    assert lost and [o for (o,) in lost if f"o{o}:sla.loss" not in ids] == []
