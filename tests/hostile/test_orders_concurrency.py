"""Two ``xborder orders import`` processes on the same file at the same time: both finish, every
order is stored once and whole, and each process reports every order as created or existing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.hostile.conftest import Hostile
from tests.hostile.corpus.orders.build import jsonl_order

ORDERS = 3_000
# Small chunks make the two imports interleave many times in a few seconds (a real import commits
# every 100,000 orders; the interleavings are the same, only rarer).
SMALL_CHUNKS = "import xborder.services.imports as m; m.CHUNK_ORDERS = 250"


def _file(tmp_path: Path, start: int = 0, name: str = "orders.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(jsonl_order(f"C-{i:05d}") + "\n" for i in range(start, start + ORDERS)))
    return path


def _finish(
    hostile: Hostile,
    procs: list[subprocess.Popen[str]],
    timeout: float = 240,
    distinct: int = ORDERS,
) -> list[dict[str, Any]]:
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0 and "Traceback" not in err, (proc.returncode, err[-3000:])
        answers.append(json.loads(out))
    for answer in answers:
        assert answer["created"] + answer["already_stored"] == ORDERS and answer["rejected"] == 0
    assert sum(a["created"] for a in answers) == distinct
    assert hostile.count("SELECT count(*) FROM orders") == distinct
    assert hostile.count("SELECT count(*) FROM order_lines") == 2 * distinct
    return answers


def test_two_imports_of_one_file_both_finish(hostile: Hostile, tmp_path: Path) -> None:
    """PostgreSQL: before, the second died with DuplicateOrderKey when the other committed keys
    between its read and its insert. SQLite: the writers take turns on the write lock."""
    path = _file(tmp_path)
    args = ["orders", "import", str(path), "--json"]
    hostile.invoke(["orders", "list"])  # migrated once, as a deployed store is
    first = hostile.popen(args, prelude=SMALL_CHUNKS)
    time.sleep(1.0)
    second = hostile.popen(args, prelude=SMALL_CHUNKS)
    _finish(hostile, [first, second])


def test_two_overlapping_imports_both_finish(hostile: Hostile, tmp_path: Path) -> None:
    """Files that share orders but not chunk boundaries: before, on PostgreSQL, one import read
    the stored keys, the other committed more of them, and the insert died with
    ``DuplicateOrderKey`` (a traceback, exit 1)."""
    offset = 1_130  # not a multiple of the chunk: the two imports' chunks straddle each other
    one = _file(tmp_path, 0, "one.jsonl")
    two = _file(tmp_path, offset, "two.jsonl")
    hostile.invoke(["orders", "list"])
    procs = []
    for path in (one, two, one, two):
        procs.append(hostile.popen(["orders", "import", str(path), "--json"], prelude=SMALL_CHUNKS))
        time.sleep(0.3)
    _finish(hostile, procs, distinct=ORDERS + offset)


def test_sqlite_imports_wait_out_a_long_write_lock(hostile: Hostile, tmp_path: Path) -> None:
    """Another writer holds SQLite's write lock for longer than the busy timeout (10 s), as a
    100,000-order chunk of a big import does: before, both imports died with "database is
    locked" (a traceback, exit 1); now they wait, retry, and finish."""
    if hostile.kind != "sqlite":
        return
    path = _file(tmp_path)
    hostile.invoke(["orders", "list"])
    holder = sqlite3.connect(hostile.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        procs = [hostile.popen(["orders", "import", str(path), "--json"]) for _ in range(2)]
        time.sleep(13)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _finish(hostile, procs)
