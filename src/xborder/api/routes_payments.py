"""Payments: a payment provider records the buyer's payment; parties list what they may see."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from xborder.api.deps import platform, scoped
from xborder.api.models import MAX_ID, Instant, MoneyModel, money
from xborder.api.pagination import PageModel, PageParams, page_params
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.tenancy import PaymentsFor, payments_for
from xborder.services.tenancy_actions import PayFor, pay_for

router = APIRouter(tags=["payments"], responses=PROBLEM_RESPONSES)


class PaymentIn(BaseModel):
    """The provider's record of one payment for an order (``channel`` + ``external_id``).
    Idempotent by provider + transaction id; ``provider`` defaults to the calling provider."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=60)
    transaction_id: str = Field(min_length=1, max_length=100)
    payer_name: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(description="exact decimal, as a string or a number")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    provider: str | None = Field(None, min_length=1, max_length=64)
    payer_id_number: str | None = Field(None, max_length=60)
    paid_at: datetime | None = Field(None, description="with offset; default: now")


class PaymentRecorded(BaseModel):
    payment_id: int
    order_id: int
    created: bool
    fully_paid: bool


class PaymentOut(BaseModel):
    id: int
    order_id: int
    channel: str
    external_id: str
    provider: str
    transaction_id: str
    amount: MoneyModel
    paid_at: Instant


@router.post("/payments", response_model=PaymentRecorded, status_code=201,
             summary="Record a payment (idempotent by provider + transaction id)")  # fmt: skip
def post_payment(
    body: PaymentIn,
    caller: Principal = Depends(scoped("payments:write")),
    plat: Platform = Depends(platform),
) -> PaymentRecorded:
    result = pay_for(plat.uow(), PayFor(caller, **body.model_dump()))
    return PaymentRecorded(payment_id=result.payment_id, order_id=result.order_id,
                           created=result.created, fully_paid=result.fully_paid)  # fmt: skip


@router.get("/payments", response_model=PageModel[PaymentOut],
            summary="Payments you processed, or of your orders; newest first")  # fmt: skip
def get_payments(
    order_id: int | None = Query(None, ge=1, le=MAX_ID),
    page: PageParams = Depends(page_params),
    caller: Principal = Depends(scoped("payments:read")),
    plat: Platform = Depends(platform),
) -> PageModel[PaymentOut]:
    found = payments_for(plat.uow(), PaymentsFor(caller, order_id, page.cursor, page.limit))
    items = [PaymentOut(**{**row, "amount": money(row["amount"])}) for row in found.items]
    return PageModel[PaymentOut](items=items, next_cursor=found.next_cursor, limit=found.limit)
