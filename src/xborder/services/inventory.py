"""Replenishing bonded and overseas stock: positions, inbound notices, goods receipt.

A seller (or the simulator acting for one) announces stock on its way to a warehouse; the
warehouse receives it when it arrives, and the planner can then promise it. Both steps are keyed
by the notice's reference, so a run repeated after a crash stores nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from xborder.domain.errors import InvalidValue
from xborder.store.uow import UnitOfWork

NEAR_BUYER = ("bonded", "overseas")


@dataclass(frozen=True, slots=True)
class StockPosition:
    warehouse_id: str
    sku: str
    kind: str
    on_hand: int
    reserved: int
    inbound: int

    @property
    def position(self) -> int:
        """What the reorder policy counts: free stock plus what is on its way."""
        return self.on_hand - self.reserved + self.inbound


@dataclass(frozen=True, slots=True)
class StockPositions:
    kinds: tuple[str, ...] = NEAR_BUYER


def stock_positions(uow: UnitOfWork, command: StockPositions) -> list[StockPosition]:
    with uow:
        return [
            StockPosition(str(r["warehouse_id"]), str(r["sku"]), str(r["kind"]),
                          int(r["on_hand"]), int(r["reserved"]), int(r["inbound"]))
            for r in uow.inventory.positions(command.kinds)
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class InboundNotice:
    ref: str  # the sender's reference: unique, makes the notice idempotent
    warehouse_id: str
    sku: str
    qty: int
    expected_at: datetime


@dataclass(frozen=True, slots=True)
class AnnounceInbound:
    notices: tuple[InboundNotice, ...]


def announce_inbound(uow: UnitOfWork, command: AnnounceInbound) -> int:
    """Record stock on its way; returns the notices new to the store."""
    with uow:
        now = uow.clock.now()
        for n in command.notices:
            if n.qty <= 0:
                raise InvalidValue(f"inbound {n.ref}: qty", "must be > 0", n.qty)
            if n.expected_at < now:
                raise InvalidValue(f"inbound {n.ref}: expected_at", "lies before now")
        added = uow.inventory.announce([
            {"ref": n.ref, "warehouse_id": n.warehouse_id, "sku": n.sku, "qty": n.qty,
             "announced_at": now, "expected_at": n.expected_at}
            for n in command.notices
        ])  # fmt: skip
        uow.commit()
    return added


@dataclass(frozen=True, slots=True)
class ReceiveInbound:
    """Receive every announced shipment due by the clock's now."""


def receive_inbound(uow: UnitOfWork, command: ReceiveInbound) -> int:
    """Add due inbound stock to on hand; returns the units received."""
    with uow:
        due = uow.inventory.receive_due(uow.clock.now())
        uow.commit()
    return sum(int(d["qty"]) for d in due)
