"""How the pages write numbers, money, dates and trends (Jinja2 filters and a sparkline).

Money is ``Money`` (Decimal amount and currency) and is written with thousands separators and
its currency, never through float. Rates are shares (0..1) written as percentages. A trend is a
tiny server-side SVG polyline, so no chart library is shipped or fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape
from typing import Any

from xborder.domain.money import Money

RATE_KPIS = frozenset({"on_time_rate", "hold_rate", "loss_rate", "trace_completeness",
                       "damage_rate", "return_rate", "attempt_rate", "unplanned_rate",
                       "quote_variance_rate"})  # fmt: skip
DASH = "\N{EN DASH}"
KPI_LABELS = {
    "orders": "Orders", "delivered": "Parcels delivered", "gmv": "Goods sold (GMV)",
    "on_time_rate": "On time", "delivery_days_mean": "Days to deliver (mean)",
    "landed_cost_per_order": "Landed cost per order",
    "clearance_hours_mean": "Hours in customs (mean)", "hold_rate": "Held at customs",
    "loss_rate": "Lost", "trace_completeness": "Unbroken trace record",
    "quote_variance_rate": "Assessed off the quote",
}  # fmt: skip


def kpi_label(key: str) -> str:
    return KPI_LABELS.get(key, key.replace("_", " ").capitalize())


def money(value: Any) -> str:
    """``1,234,567.89 CNY``; a dash for nothing."""
    if value is None:
        return DASH
    if isinstance(value, Money):
        return f"{value.amount:,} {value.currency}"
    return str(value)


def number(value: Any, digits: int = 1) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal | float):
        return f"{float(value):,.{digits}f}"
    return str(value)


def percent(value: Any) -> str:
    return DASH if value is None else f"{float(value):.1%}"


def kpi(key: str, value: Any) -> str:
    """A KPI's value as its kind wants it: money, a share, a count or a measure."""
    if isinstance(value, Money):
        return money(value)
    if key in RATE_KPIS:
        return percent(value)
    return number(value)


def day(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def moment(value: Any) -> str:
    """``2026-11-24 13:05`` in UTC (the pages say so in their headers)."""
    if value is None:
        return DASH
    if isinstance(value, datetime):
        at = value.astimezone(UTC) if value.tzinfo else value
        return at.strftime("%Y-%m-%d %H:%M")
    return day(value)


def words(value: Any) -> str:
    """A stored status as words: ``out_for_delivery`` -> ``out for delivery``."""
    return DASH if value is None else str(value).replace("_", " ")


def sparkline(
    values: Sequence[float | None], label: str, width: int = 120, height: int = 28
) -> str:
    """A small SVG line of ``values`` (gaps where None), escaped label as its title."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    title = f"<title>{escape(label)}</title>"
    if len(points) < 2:
        return (
            f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}">{title}</svg>'
        )
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = (high - low) or 1.0
    step = (width - 4) / max(len(values) - 1, 1)
    coords = " ".join(
        f"{2 + i * step:.1f},{height - 3 - (v - low) / span * (height - 6):.1f}" for i, v in points
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">{title}<polyline points="{coords}"/></svg>'
    )


FILTERS = {
    "money": money,
    "number": number,
    "percent": percent,
    "day": day,
    "moment": moment,
    "words": words,
}
