"""Orders, order lines, buyers, consignees and payment records.

These models carry structure and types only. The business rules an order must satisfy live in one
columnar kernel (``xborder.domain.order_rules``) that checks one order or a million the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from xborder.domain.money import Money

# The longest text each stored order field may hold, in characters: the single source for the
# validation kernel (``xborder.domain.order_rules``) and the store's column types (``String(n)``),
# so a value is refused with its field and reason before it reaches either store, and both stores
# accept the same values. ``channel`` and ``external_id`` follow China customs' ``orderNo`` limit.
ORDER_TEXT_LIMITS: dict[str, int] = {
    "channel": 64, "external_id": 60, "seller_id": 64, "platform_id": 64, "trade_mode": 3,
    "direction": 6, "incoterm": 3, "currency": 3, "origin_country": 2, "buyer_name": 200,
    "buyer_telephone": 50, "buyer_id_type": 2, "buyer_id_number": 60, "buyer_email": 200,
    "consignee_name": 200, "consignee_telephone": 50, "consignee_line1": 300,
    "consignee_line2": 300, "consignee_city": 100, "consignee_region": 100,
    "consignee_postcode": 20, "consignee_country": 2,
}  # fmt: skip
LINE_TEXT_LIMITS: dict[str, int] = {
    "sku": 64, "description": 500, "hs_code": 10, "origin_country": 2,
}  # fmt: skip


class TradeMode(StrEnum):
    B2C = "B2C"
    B2B = "B2B"


class Direction(StrEnum):
    """Seen from China, the hub of this ecosystem: goods leave (export) or enter (import)."""

    IMPORT = "import"
    EXPORT = "export"


class Incoterm(StrEnum):
    """Incoterms 2020: DDP seller pays duties and taxes, DAP buyer pays on delivery."""

    DDP = "DDP"
    DAP = "DAP"


class BuyerIdType(StrEnum):
    """China customs code list for ``buyerIdType`` (GACC Announcement 56/2018)."""

    RESIDENT_ID = "1"
    OTHER = "2"


class OrderStatus(StrEnum):
    CAPTURED = "captured"
    PAID = "paid"
    PLANNED = "planned"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    PARTLY_DELIVERED = "partly_delivered"
    LOST = "lost"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Buyer(_Model):
    name: str
    telephone: str
    id_type: str | None = None
    id_number: str | None = None
    email: str | None = None


class Address(_Model):
    name: str
    telephone: str
    line1: str
    city: str
    postcode: str
    country: str
    line2: str | None = None
    region: str | None = None


class OrderLine(_Model):
    sku: str
    description: str
    hs_code: str
    qty: int
    unit_price: Decimal
    origin_country: str | None = None


class Order(_Model):
    channel: str
    external_id: str
    seller_id: str
    trade_mode: TradeMode
    direction: Direction
    incoterm: Incoterm
    currency: str
    origin_country: str
    buyer: Buyer
    consignee: Address
    lines: list[OrderLine] = Field(min_length=1)
    placed_at: datetime
    promised_by: date
    platform_id: str | None = None
    freight: Decimal = Decimal(0)
    insurance: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)

    @property
    def destination_country(self) -> str:
        return self.consignee.country

    @property
    def goods_value(self) -> Money:
        return Money(
            sum((line.unit_price * line.qty for line in self.lines), Decimal(0)), self.currency
        )

    @property
    def payable(self) -> Money:
        """What the buyer pays before taxes: goods + freight + insurance - discount."""
        return self.goods_value + Money(
            self.freight + self.insurance - self.discount, self.currency
        )


class StoredOrder(_Model):
    """An order as the store holds it: the captured order plus its id and status."""

    id: int
    status: OrderStatus
    order: Order


class PaymentRecord(_Model):
    """A payment provider's record of the buyer's payment for one order."""

    channel: str
    external_id: str
    provider: str
    transaction_id: str
    payer_name: str
    payer_id_number: str | None = None
    amount: Decimal
    currency: str
    paid_at: datetime
