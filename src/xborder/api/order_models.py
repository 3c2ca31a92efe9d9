"""The orders API's request and response models (one order as the JSON-lines import format;
what a party sees of its orders)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xborder.api.models import Instant, MoneyModel
from xborder.domain.orders import OrderStatus


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuyerIn(_In):
    name: str
    telephone: str
    id_type: str | None = None
    id_number: str | None = None
    email: str | None = None


class ConsigneeIn(_In):
    name: str
    telephone: str
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postcode: str
    country: str


class OrderLineIn(_In):
    sku: str
    description: str
    hs_code: str
    qty: int
    unit_price: Decimal = Field(description="exact decimal, as a string or a number")
    origin_country: str | None = None


class OrderIn(_In):
    """One order, as one line of the JSON-lines import format."""

    channel: str
    external_id: str
    seller_id: str
    platform_id: str | None = None
    trade_mode: str = Field(examples=["B2C"])
    direction: str = Field(examples=["export"])
    incoterm: str = Field(examples=["DDP"])
    currency: str = Field(examples=["EUR"])
    origin_country: str
    buyer: BuyerIn
    consignee: ConsigneeIn
    lines: list[OrderLineIn] = Field(min_length=1)
    placed_at: datetime | None = Field(None, description="with offset; default: now")
    promised_by: date
    freight: Decimal | None = None
    insurance: Decimal | None = None
    discount: Decimal | None = None


class OrderAccepted(BaseModel):
    order_id: int
    status: Literal["created", "existing"]
    channel: str | None = None
    external_id: str | None = None


class OrderSummary(BaseModel):
    id: int
    channel: str
    external_id: str
    seller_id: str
    platform_id: str | None
    status: OrderStatus
    goods: MoneyModel
    freight: MoneyModel
    consignee_country: str
    placed_at: Instant
    promised_by: date


class LineError(BaseModel):
    field: str | None = None
    reason: str | None = None
    value: str | None = None


class LineReport(BaseModel):
    """One line of a bulk upload's report (one JSON object per line)."""

    line: int
    status: Literal["created", "existing", "rejected"]
    order_id: int | None = None
    error: LineError | None = None


class OrderLineOut(BaseModel):
    line_no: int
    sku: str
    description: str
    hs_code: str
    qty: int
    unit_price: MoneyModel
    origin_country: str | None = None


class PaymentBrief(BaseModel):
    provider: str
    transaction_id: str
    amount: MoneyModel
    paid_at: Instant


class ParcelBrief(BaseModel):
    tracking_no: str
    sscc: str
    status: str
    status_at: Instant | None = None
    warehouse: str | None = None
    lane: str | None = None
    last_mile: str | None = None
    promised_by: date | None = None
    packed_at: Instant | None = None
    departed_at: Instant | None = None
    delivered_at: Instant | None = None
    master_waybill: str | None = None


class DeclarationBrief(BaseModel):
    order_no: str
    status: str
    regime: str
    match_status: str | None = None


class TimelineEntry(BaseModel):
    time: Instant
    status: str
    place: str | None = None
    party: str | None = None
    parcel: str | None = None


class OrderDetail(BaseModel):
    id: int
    channel: str
    external_id: str
    seller_id: str
    platform_id: str | None
    status: OrderStatus
    trade_mode: str
    direction: str
    incoterm: str
    origin_country: str
    consignee_city: str
    consignee_postcode: str
    consignee_country: str
    placed_at: Instant
    promised_by: date
    goods: MoneyModel
    freight: MoneyModel
    insurance: MoneyModel
    discount: MoneyModel
    lines: list[OrderLineOut]
    payments: list[PaymentBrief]
    parcels: list[ParcelBrief]
    declaration: DeclarationBrief | None
    escrow: dict[str, MoneyModel]
    timeline: list[TimelineEntry]
