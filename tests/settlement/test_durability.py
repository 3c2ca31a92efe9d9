"""What the store promises about an acknowledged posting (docs/settlement.md, "Durability").

SQLite runs with ``synchronous=FULL`` on every connection: in WAL mode that syncs the log at each
commit, so a commit the caller saw is on disk. The tests check the pragma on every connection the
engine opens, and that a posting acknowledged by ``post_frame`` survives ``kill -9`` of the
process right after its commit. True power loss (the disk's cache, the OS's page cache) cannot be
produced here: that part rests on SQLite's documented behaviour for ``FULL``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from xborder.services.settlement import VerifyLedger, verify_ledger
from xborder.settlement.crashpoints import ENV
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
POST = """
import sys
from datetime import datetime, UTC
from xborder.domain.clock import SettableClock
from xborder.services.settlement import PostTransfers, post_transfers
from xborder.settlement.ledger import AccountKey, Purpose, Transfer
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork
at = datetime(2026, 11, 24, 12, tzinfo=UTC)
move = Transfer("durable-1", AccountKey("d-p", Purpose.FUNDS, "EUR"),
                AccountKey("d-x", Purpose.ESCROW, "EUR"), 1234, "EUR", "fund", at)
result = post_transfers(UnitOfWork(make_engine(sys.argv[1]), SettableClock(at)),
                        PostTransfers([move]))
print("acknowledged", result.posted, flush=True)
"""


def test_every_connection_of_the_engine_syncs_each_commit(sqlite_engine: Engine) -> None:
    connections = [sqlite_engine.connect() for _ in range(3)]  # three pooled connections
    try:
        for conn in connections:
            raw = conn.connection.driver_connection
            assert raw is not None
            assert raw.execute("PRAGMA synchronous").fetchone()[0] == FULL
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        for conn in connections:
            conn.close()
    sqlite_engine.dispose()  # new connections after a dispose get it too
    with sqlite_engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None and raw.execute("PRAGMA synchronous").fetchone()[0] == FULL


def test_a_new_engine_on_a_fresh_file_syncs_each_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None and raw.execute("PRAGMA synchronous").fetchone()[0] == FULL
    engine.dispose()


def test_an_acknowledged_posting_survives_kill_9(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, ENV: "committed@post_frame"}  # SIGKILL right after the commit
    done = subprocess.run([sys.executable, "-c", POST, url], env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == -9, done.stderr[-2000:]
    with UnitOfWork(engine) as uow:
        moves = uow.ledger.transfers()
    assert moves.get_column("id").to_list() == ["durable-1"]
    assert moves.get_column("amount").to_list() == [1234]
    assert moves.get_column("at").to_list() == [datetime(2026, 11, 24, 12, tzinfo=UTC)]
    assert verify_ledger(UnitOfWork(engine), VerifyLedger()).ok
