"""Read-only customs queries for other areas: which orders are declared, one order's declaration,
and landed cost per destination. Money leaves here formatted (``str(Money)``), ready to show."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import polars as pl

from xborder.domain.money import Money
from xborder.store.uow import UnitOfWork

_AMOUNTS = (
    ("customs_value", "customs_value_minor"),
    ("duty", "duty_minor"),
    ("vat", "vat_minor"),
    ("consumption_tax", "consumption_tax_minor"),
    ("fees", "fees_minor"),
    ("total_tax", "total_tax_minor"),
    ("landed_cost", "landed_minor"),
)


def declared_orders(uow: UnitOfWork, order_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Order id -> (order number, declaration status) for the orders that have a declaration."""
    with uow:
        return uow.customs.for_orders(order_ids)


def declaration_for_order(uow: UnitOfWork, order_id: int) -> dict[str, Any] | None:
    """The order's declaration (None when it has none): status, regime, channel, who pays the
    tax and when, duties and taxes as formatted money, the dates, and the saved three-document
    match: ``match_status`` (None when never matched), its ``problems`` (rule, field, expected,
    actual) and ``match_checked_on``."""
    with uow:
        decl = uow.customs.by_order_id(order_id)
        if decl is None:
            return None
        saved = uow.customs.match_result(str(decl["order_no"]))
    currency = str(decl["tax_currency"])
    result: dict[str, Any] = {
        "order_no": decl["order_no"],
        "status": decl["status"],
        "regime": decl["regime"],
        "destination": decl["destination"],
        "channel": decl["channel"],
        "tax_payer": decl["tax_payer"],
        "collected_at": decl["collected_at"],
    }
    for name, column in _AMOUNTS:
        result[name] = str(Money.from_minor(int(decl[column]), currency))
    result["declared_on"] = decl["declared_on"]
    result["released_on"] = decl["released_on"]
    result["match_status"] = saved["status"] if saved else None
    result["problems"] = json.loads(saved["problems"]) if saved else []
    result["match_checked_on"] = saved["checked_on"] if saved else None
    return result


def landed_cost_summary(uow: UnitOfWork, order_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Per destination, regime channel and tax currency of the declared orders among
    ``order_ids``: orders, customs value, duties and taxes, and the mean landed cost (most
    orders first). A table: one dict per row, money formatted."""
    with uow:
        declared = uow.customs.declared_orders(order_ids)
    if declared.is_empty():
        return []
    rows = (
        declared.group_by("destination", "regime", "channel", "tax_currency")
        .agg(
            pl.len().alias("orders"),
            pl.col("customs_value_minor").sum(),
            pl.col("total_tax_minor").sum(),
            pl.col("landed_minor").mean().round().cast(pl.Int64).alias("mean_landed_minor"),
        )
        .sort(["orders", "destination", "channel"], descending=[True, False, False])
    )
    return [
        {
            "destination": r["destination"],
            "channel": r["channel"],
            "orders": r["orders"],
            "customs_value": str(
                Money.from_minor(int(r["customs_value_minor"]), r["tax_currency"])
            ),
            "duties_and_taxes": str(Money.from_minor(int(r["total_tax_minor"]), r["tax_currency"])),
            "mean_landed_cost": str(
                Money.from_minor(int(r["mean_landed_minor"]), r["tax_currency"])
            ),
        }
        for r in rows.iter_rows(named=True)
    ]
