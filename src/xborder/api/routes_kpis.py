"""Network KPIs per period (``docs/kpis.md``): the operator's view of the whole platform."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from xborder.api.deps import platform, scoped
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.tenancy import KpisFor, kpis_for

router = APIRouter(tags=["kpis"], responses=PROBLEM_RESPONSES)
Value = int | float | str | None


class KpisOut(BaseModel):
    """Money KPIs are exact decimal strings in ``currency``; rates are fractions; dates ISO."""

    currency: str
    overall: dict[str, Value]
    periods: list[dict[str, Value]]
    partners: list[dict[str, Value]]
    timeline: list[dict[str, Value]]


def plain(value: Any) -> Value:
    """A KPI value as JSON: Decimal as exact text, dates ISO, NaN and infinities as null."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str) or value is None:
        return value
    return str(value)


def _row(row: dict[str, Any]) -> dict[str, Value]:
    return {str(k): plain(v) for k, v in row.items()}


@router.get("/kpis", response_model=KpisOut, summary="KPIs per period and overall")
def get_kpis(
    period_days: int = Query(7, ge=1, le=366),
    start: date | None = Query(None),
    until: date | None = Query(None),
    currency: str = Query("CNY", pattern=r"^[A-Za-z]{3}$"),
    caller: Principal = Depends(scoped("kpis:read")),
    plat: Platform = Depends(platform),
) -> KpisOut:
    report = kpis_for(plat.uow(), KpisFor(caller, period_days, start, until, currency.upper()))
    return KpisOut(
        currency=report.currency,
        overall=_row(report.overall),
        periods=[_row(p) for p in report.periods],
        partners=[_row(p) for p in report.partners],
        timeline=[_row(t) for t in report.timeline],
    )
