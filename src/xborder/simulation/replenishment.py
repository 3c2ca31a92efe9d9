"""The sellers' reorder policy for stock near the buyer, and the network a scenario operates.

Bonded and overseas warehouses hold what sellers sent ahead; without reorders a month-long run
would simply run dry. The policy is (s, S) per SKU and warehouse: when the position (free stock
plus inbound) falls below ``reorder_point`` times the opening stock S, order back up to S; the
goods arrive ``lead_days`` later. Notices are keyed by warehouse, SKU and day, so a run repeated
on the same store orders nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from xborder.domain.network import WarehouseKind
from xborder.domain.world import World
from xborder.services.inventory import InboundNotice, StockPosition
from xborder.simulation.config import Replenishment, Switches

NEAR_BUYER = frozenset({WarehouseKind.BONDED, WarehouseKind.OVERSEAS})


def opening_stock(world: World) -> dict[tuple[str, str], int]:
    """S of the policy: each (warehouse, sku)'s stock in the world file."""
    return {(i.warehouse, i.sku): i.on_hand for i in world.inventory}


def reorders(
    positions: Sequence[StockPosition], opening: dict[tuple[str, str], int],
    policy: Replenishment, on: date,
) -> tuple[InboundNotice, ...]:  # fmt: skip
    """The notices to send on ``on`` (arriving at 10:00 UTC after the kind's lead time)."""
    if not policy.enabled:
        return ()
    out: list[InboundNotice] = []
    for p in positions:
        target = opening.get((p.warehouse_id, p.sku), 0)
        lead = policy.lead_days.get(p.kind)
        if target <= 0 or lead is None or p.position >= policy.reorder_point * target:
            continue
        arrives = datetime.combine(on + timedelta(days=lead), time(10), tzinfo=UTC)
        out.append(InboundNotice(f"ASN-{on:%Y%m%d}-{p.warehouse_id}-{p.sku}", p.warehouse_id,
                                 p.sku, target - p.position, arrives))  # fmt: skip
    return tuple(out)


def operated_world(world: World, switches: Switches) -> World:
    """The network a scenario runs: without the ``warehouses`` switch, no bonded or overseas
    warehouse (each side keeps stock at home and ships every order from there)."""
    if switches.warehouses:
        return world
    keep = tuple(w for w in world.warehouses if w.kind not in NEAR_BUYER)
    ids = {w.id for w in keep}
    return world.model_copy(update={
        "warehouses": keep,
        "inventory": tuple(i for i in world.inventory if i.warehouse in ids),
    })  # fmt: skip
