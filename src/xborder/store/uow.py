"""The unit of work: one use case, one transaction, with the repositories bound to it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from xborder.store.orders_repo import OrderRepository
from xborder.store.world_repo import WorldRepository


class UnitOfWork:
    """``with UnitOfWork(engine) as uow: ...; uow.commit()``; anything uncommitted rolls back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def __enter__(self) -> UnitOfWork:
        self._connection = self.engine.connect()  # the transaction begins with the first statement
        self.orders = OrderRepository(self._connection)
        self.world = WorldRepository(self._connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.connection.in_transaction():
                self.connection.rollback()
        finally:
            self.connection.close()
            self._connection = None

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
