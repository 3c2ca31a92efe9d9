"""The unit of work: one use case, one transaction, with every repository, the clock and the keys.

The use-case contract (``docs/architecture.md``): ``verb(uow, command) -> result`` opens the
unit of work (``with uow:``), does its work through the repositories, and commits itself. A use
case called from inside another one joins the caller's transaction: entering an open unit of
work nests, and only the outermost ``commit`` commits, so a composite use case (record a
delivery, which writes the parcel's state, its EPCIS event and the order's state) stays atomic.
Leaving the outermost block without a commit rolls everything back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from xborder.adapters.clock import SystemClock
from xborder.domain.clock import Clock
from xborder.store.api_repo import ApiRepository
from xborder.store.capture_jobs_repo import CaptureJobRepository
from xborder.store.customs_repo import CustomsRepository
from xborder.store.inventory_repo import InventoryRepository
from xborder.store.kpi_repo import KpiRepository
from xborder.store.orders_repo import OrderRepository
from xborder.store.parcels_repo import ParcelRepository
from xborder.store.planning_repo import PlanningRepository
from xborder.store.settlement_repo import LedgerRepository
from xborder.store.tenancy_repo import TenancyRepository
from xborder.store.trace_repo import TraceRepository
from xborder.store.webhooks_repo import WebhookRepository
from xborder.store.world_repo import WorldRepository
from xborder.trace.signing import KeyStore


class UnitOfWork:
    """``with uow: ...; uow.commit()``; anything uncommitted rolls back at the outermost exit."""

    def __init__(
        self, engine: Engine, clock: Clock | None = None, keys: KeyStore | None = None
    ) -> None:
        self.engine = engine
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._keys = keys
        self._connection: Connection | None = None
        self._depth = 0

    @property
    def keys(self) -> KeyStore:
        """The parties' signing keys (the configured directory unless one was injected)."""
        if self._keys is None:
            self._keys = KeyStore()
        return self._keys

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def __enter__(self) -> UnitOfWork:
        if self._depth == 0:
            # the transaction begins with the first statement
            self._connection = self.engine.connect()
            conn = self._connection
            self.orders = OrderRepository(conn)
            self.world = WorldRepository(conn)
            self.customs = CustomsRepository(conn)
            self.trace = TraceRepository(conn)
            self.ledger = LedgerRepository(conn)
            self.parcels = ParcelRepository(conn)
            self.planning = PlanningRepository(conn)
            self.kpis = KpiRepository(conn)
            self.inventory = InventoryRepository(conn)
            self.tenancy = TenancyRepository(conn)
            self.api = ApiRepository(conn)
            self.webhooks = WebhookRepository(conn)
            self.capture_jobs = CaptureJobRepository(conn)
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        try:
            if self.connection.in_transaction():
                self.connection.rollback()
        finally:
            self.connection.close()
            self._connection = None

    def commit(self) -> None:
        """Commit, unless this is a use case nested in another (the outermost one commits)."""
        if self._depth <= 1:
            self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
