"""Landed-cost quotes: duties, taxes and fees of an order before it is placed (writes nothing)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from xborder.api.deps import platform, scoped
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.customs import QuoteOrder, quote

router = APIRouter(tags=["quotes"], responses=PROBLEM_RESPONSES)
Amount = Decimal


class QuoteLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hs_code: str
    qty: int = Field(ge=1, le=1_000_000)
    unit_price: Amount
    description: str | None = None
    sku: str | None = None
    duty_rate: Amount | None = None
    vat_rate: Amount | None = None
    consumption_tax_rate: Amount | None = None
    high_end: bool | None = None


class QuoteIn(BaseModel):
    """An order to quote (``docs/customs.md``): amounts in ``currency``; FX from the store."""

    model_config = ConfigDict(extra="forbid")

    origin: str
    destination: str
    currency: str
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=1000)
    date: dt.date | None = None
    incoterm: str | None = None
    freight: Amount | None = None
    insurance: Amount | None = None
    customs_mode: str | None = None
    buyer_id: str | None = None
    buyer_annual_total_before: Amount | None = None
    fx: Amount | None = None


class QuoteLineOut(BaseModel):
    line: int
    hs_code: str
    qty: int
    value: str | None = None
    customs_value: str | None = None
    duty_rate: float | None = None
    vat_rate: float | None = None
    consumption_tax_rate: float | None = None
    duty: str | None = None
    vat: str | None = None
    consumption_tax: str | None = None
    tariff_source: str | None = None
    vat_source: str | None = None


class ConsideredOut(BaseModel):
    """A rule, measure or fee the quote considered: ``applied``, ``not applicable``, ``not in
    force`` or ``left off`` (unverified), with the reason and (measures, fees) the source."""

    id: str
    status: str
    reason: str
    source: str | None = None


class ExplanationOut(BaseModel):
    """Why the quote says what it says (``docs/customs.md``, "Explanation and estimates")."""

    estimate_reasons: list[str]
    decided_by: dict[str, list[str]]
    rules: list[ConsideredOut]
    measures: list[ConsideredOut]
    fees: list[ConsideredOut]


class QuoteOut(BaseModel):
    """Amounts are exact decimal strings in ``currency`` (the destination's tax currency).
    ``estimate`` is false only when every component came from a verified rule in force with an
    exact tariff line; ``fx`` is the rate used (``from``, ``to``, ``rate``, ``date``, ``source``)
    when the quote converted."""

    date: str
    regime: str | None = None
    channel: str | None = None
    eligible: bool | None = None
    reason: str | None = None
    currency: str
    goods: str | None = None
    freight_insurance: str | None = None
    customs_value: str | None = None
    duty: str | None = None
    additional_duty: str | None = None
    vat: str | None = None
    consumption_tax: str | None = None
    fees: str | None = None
    total_tax: str | None = None
    landed_cost: str | None = None
    tax_payer: str | None = None
    collected_at: str | None = None
    buyer_annual_total_after: str | None = None
    lines: list[QuoteLineOut]
    rules: list[dict[str, str]]
    estimate: bool = True
    fx: dict[str, str | None] | None = None
    explanation: ExplanationOut | None = None


@router.post("/quotes", response_model=QuoteOut, summary="Landed cost of an order")
def post_quote(
    body: QuoteIn,
    caller: Principal = Depends(scoped("quotes:read")),
    plat: Platform = Depends(platform),
) -> QuoteOut:
    request = body.model_dump(mode="python", exclude_none=True)
    result = quote(plat.uow(), QuoteOrder(request, use_store=True))
    return QuoteOut(**result)
