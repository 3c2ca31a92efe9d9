"""Many rows at once between polars and the store, inside the caller's transaction.

Reads by many keys go in chunks (``chunks``): bound parameters stay well below SQLite's limit
(32,766) and PostgreSQL's statement sizes stay small.

Inserts of many rows go through ``bulk_insert``, always on the unit of work's own connection, so
they stay in its transaction: a nested use case joins its caller's, a savepoint can undo them, a
crash before the commit leaves nothing, and the store's triggers and constraints all apply.

- PostgreSQL: ``COPY ... FROM STDIN`` (CSV written by polars) on the same connection.
- SQLite, large batches: *staged Arrow ingest*. ``executemany`` spends most of its time building
  one Python tuple per row and binding it value by value. Instead the frame goes to Arrow and the
  ADBC SQLite driver binds it in C into a scratch database file (no index, no journal, no fsync);
  the store's connection ATTACHes that file and copies the rows with one ``INSERT ... SELECT``
  inside its open transaction. ADBC cannot write into the store directly: it opens its own
  connection, and SQLite lets only one connection write at a time, while the use case's
  transaction (``BEGIN IMMEDIATE``) already holds the write lock and must stay the one that
  commits or rolls back. The scratch file is unlinked as soon as it is attached (nothing is left
  in the temp directory even if the process is killed afterwards); SQLite cannot DETACH inside a
  transaction, so the attachment is dropped when the connection goes back to the pool.
- SQLite, small batches (or without the ADBC driver): ``executemany``, column lists zipped in C.
  Both paths store identical rows (``tests/store/test_adbc_ingest.py``).

Frames must already hold the store's representation (times as text on SQLite, see the
repositories); columns are inserted by name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import Connection, Engine, event

T = TypeVar("T")

# Below this many rows executemany is as fast: staging costs a connection, a file and an ATTACH.
STAGE_MIN_ROWS = 5_000
# Attachments (one per staged table) per pooled connection before falling back to executemany
# until it is returned (SQLite allows 10 attached databases; detached only outside a transaction).
MAX_STAGES = 9
_STAGES = "xborder_stages"  # connection-record info key: schemas attached by this connection
_SCRATCH_PRAGMAS = ("journal_mode=OFF", "synchronous=OFF", "locking_mode=EXCLUSIVE")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of ``items``, ``size`` at a time (the last one may be shorter)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def row_tuples(frame: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    """Rows for ``executemany``: column lists zipped in C, faster than ``DataFrame.rows()``."""
    return zip(*(frame.get_column(c).to_list() for c in frame.columns), strict=True)


def bulk_insert(connection: Connection, frames: Mapping[str, pl.DataFrame]) -> str:
    """Insert each frame into the table it is keyed by, in order, in the connection's open
    transaction (beginning it if needed). Returns the path taken: ``copy``, ``staged`` or
    ``executemany``. A constraint violation raises the driver's ``IntegrityError``; rows of
    earlier tables of the call stay in the transaction (the caller's savepoint undoes them)."""
    frames = {table: frame for table, frame in frames.items() if frame.height}
    if not frames:
        return "none"
    connection.exec_driver_sql("SELECT 1")  # SQLAlchemy begins the transaction here if it has not
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            for table, frame in frames.items():
                _copy(cursor, table, frame)
        return "copy"
    if max(f.height for f in frames.values()) >= STAGE_MIN_ROWS and _stage(connection, frames):
        return "staged"
    cursor = raw.cursor()
    try:
        for table, frame in frames.items():
            cursor.executemany(_insert_sql(table, frame.columns), row_tuples(frame))
    finally:
        cursor.close()
    return "executemany"


def _copy(cursor: Any, table: str, frame: pl.DataFrame) -> None:
    sql = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
    with cursor.copy(sql) as copy:
        for part in frame.iter_slices(200_000):
            copy.write(part.write_csv(include_header=False, null_value=""))


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def adbc_available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def _stage(connection: Connection, frames: Mapping[str, pl.DataFrame]) -> bool:
    """Copy the frames into the store through scratch files (``scratch_tables``): each table is
    copied as soon as its file is attached, while the next ones are still being written. False
    (nothing done) when the driver is missing or this connection has no attachments left."""
    staged = scratch_tables(connection, frames)
    if staged is None:
        return False
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for table, source in staged:
            columns = ", ".join(frames[table].columns)
            cursor.execute(f"INSERT INTO main.{table} ({columns}) "
                           f"SELECT {columns} FROM {source} ORDER BY rowid")  # fmt: skip
    finally:
        staged.close()
        cursor.close()
    return True


def attach_scratch(
    connection: Connection, frames: Mapping[str, pl.DataFrame]
) -> dict[str, str] | None:
    """The frames as scratch tables attached to the store's connection (``scratch_tables``), all
    of them: table name -> qualified scratch table; None where not available."""
    staged = scratch_tables(connection, frames)
    return None if staged is None else dict(staged)


def scratch_tables(
    connection: Connection, frames: Mapping[str, pl.DataFrame]
) -> Generator[tuple[str, str], None, None] | None:
    """Each frame written through ADBC into a scratch SQLite file of its own (the files in
    parallel threads: the driver releases the GIL), attached to the store's connection (SQLite)
    for the rest of its transaction. Yields (table, qualified scratch table) in the frames' order,
    each as soon as it is attached. None when the driver is missing or this connection has not
    enough attachments left (see the module docstring)."""
    if connection.dialect.name != "sqlite" or not adbc_available():
        return None
    stages: list[str] = connection.info.setdefault(_STAGES, [])
    if len(stages) + len(frames) > MAX_STAGES:
        return None
    _listen(connection.engine)
    connection.exec_driver_sql("SELECT 1")  # SQLAlchemy begins the transaction here if it has not
    return _attach_each(connection.connection.driver_connection, stages, frames)


def _attach_each(
    raw: Any, stages: list[str], frames: Mapping[str, pl.DataFrame]
) -> Generator[tuple[str, str], None, None]:
    directory = tempfile.mkdtemp(prefix="xborder-stage-")
    pool = ThreadPoolExecutor(max_workers=len(frames))
    try:
        paths = {table: os.path.join(directory, f"{n}.db") for n, table in enumerate(frames)}
        written = {table: pool.submit(write_scratch, paths[table], {table: frame})
                   for table, frame in frames.items()}  # fmt: skip
        for table, future in written.items():
            future.result()
            schema = f"xborder_stage_{len(stages)}"
            raw.execute(f"ATTACH DATABASE ? AS {schema}", (paths[table],))
            stages.append(schema)
            os.unlink(paths[table])  # attached: SQLite keeps the open file
            yield table, f"{schema}.{table}"
    finally:
        pool.shutdown(wait=True)  # a failed copy still waits for the other writers
        shutil.rmtree(directory, ignore_errors=True)


def write_scratch(path: str, frames: Mapping[str, pl.DataFrame]) -> None:
    """The frames as tables of a new SQLite file, bound from Arrow by the ADBC driver."""
    import adbc_driver_sqlite.dbapi as adbc

    with closing(adbc.connect(path, autocommit=True)) as scratch, closing(scratch.cursor()) as cur:
        for pragma in _SCRATCH_PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
            cur.fetchall()
        cur.execute("BEGIN")
        for table, frame in frames.items():
            cur.adbc_ingest(table, frame.to_arrow(), mode="create")
        cur.execute("COMMIT")


def _listen(engine: Engine) -> None:
    if not event.contains(engine, "checkin", _detach_stages):
        event.listen(engine, "checkin", _detach_stages)


def _detach_stages(dbapi_connection: Any, record: Any) -> None:
    """Back in the pool (no transaction open): drop the scratch attachments (closing the files)."""
    schemas = record.info.pop(_STAGES, []) if record is not None else []
    if dbapi_connection is None:
        return
    for schema in schemas:
        with suppress(Exception):  # a broken connection is discarded by the pool anyway
            dbapi_connection.execute(f"DETACH DATABASE {schema}")
