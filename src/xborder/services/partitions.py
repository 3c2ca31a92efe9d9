"""Monthly partitions of the two ledgers on PostgreSQL (an operator's command, opt-in).

``ensure_partitions`` partitions trace events (by event time) and ledger transfers (by transfer
time) if they are not yet, and makes sure the current month (on the unit of work's clock) and
the ``ahead`` following months have their partition, so inserts land in a month of their own
rather than in the DEFAULT partition. Run it ahead of time (monthly, say, with ``--ahead 3``);
it is idempotent. Why opt-in, and why these keys: docs/scale.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from xborder.domain.errors import InvalidValue
from xborder.store.partitions import TABLES, Partition, PartitionRepository, add_months, month_start
from xborder.store.uow import UnitOfWork

__all__ = ["EnsurePartitions", "ListPartitions", "Partition", "PartitionsResult",
           "ensure_partitions", "list_partitions"]  # fmt: skip
MAX_AHEAD = 120


@dataclass(frozen=True, slots=True)
class EnsurePartitions:
    ahead: int = 3  # months after the current one
    count: bool = False  # count each partition's rows (a scan of each)


@dataclass(frozen=True, slots=True)
class ListPartitions:
    count: bool = False


@dataclass(frozen=True, slots=True)
class PartitionsResult:
    converted: tuple[str, ...]  # tables partitioned by this call
    created: tuple[str, ...]  # partitions created by this call
    partitions: tuple[Partition, ...]  # every partition of both tables, months in order


def _require_postgres(uow: UnitOfWork) -> PartitionRepository:
    repo = PartitionRepository(uow.connection)
    if not repo.postgres:
        raise InvalidValue(
            "store", "partitions are a PostgreSQL feature; this store is SQLite (one file, "
            "nothing to partition)"
        )  # fmt: skip
    return repo


def ensure_partitions(uow: UnitOfWork, command: EnsurePartitions) -> PartitionsResult:
    if not 0 <= command.ahead <= MAX_AHEAD:
        raise InvalidValue("ahead", f"between 0 and {MAX_AHEAD} months", command.ahead)
    with uow:
        repo = _require_postgres(uow)
        first = month_start(uow.clock.now().date())
        months = [add_months(first, n) for n in range(command.ahead + 1)]
        converted: list[str] = []
        created: list[str] = []
        for table in TABLES:
            try:
                was_converted, new = repo.partition(table, months)
            except ValueError as exc:  # an old server, or a unique index it cannot keep
                raise InvalidValue("store", str(exc)) from None
            if was_converted:
                converted.append(table)
            created += new
        listed = [p for table in TABLES for p in repo.partitions(table, count=command.count)]
        uow.commit()
    return PartitionsResult(tuple(converted), tuple(created), tuple(listed))


def list_partitions(uow: UnitOfWork, command: ListPartitions) -> tuple[Partition, ...]:
    """Every partition of both ledgers (empty when they are not partitioned)."""
    with uow:
        repo = _require_postgres(uow)
        return tuple(p for table in TABLES for p in repo.partitions(table, count=command.count))
