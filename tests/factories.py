"""Valid example orders for tests, with overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from xborder.domain.orders import Address, Buyer, Direction, Incoterm, Order, OrderLine, TradeMode

RESIDENT_ID = "11010519491231002X"  # the checksum example of GB 11643-1999


def make_order(external_id: str = "ORD-1", **overrides: Any) -> Order:
    values: dict[str, Any] = {
        "channel": "shop-de",
        "external_id": external_id,
        "seller_id": "seller-sz-gadgets",
        "trade_mode": TradeMode.B2C,
        "direction": Direction.EXPORT,
        "incoterm": Incoterm.DDP,
        "currency": "EUR",
        "origin_country": "CN",
        "buyer": Buyer(name="Lena Vogel", telephone="+49 30 1234567"),
        "consignee": Address(name="Lena Vogel", telephone="+49 30 1234567",
                             line1="Invalidenstraße 117", city="Berlin", postcode="10115",
                             country="DE"),
        "lines": [OrderLine(sku="TSHIRT-1", description="Cotton T-shirt", hs_code="610910",
                            qty=2, unit_price=Decimal("9.99")),
                  OrderLine(sku="CASE-1", description="Phone case", hs_code="392690",
                            qty=1, unit_price=Decimal("4.50"))],
        "placed_at": datetime(2026, 11, 24, 10, 30, tzinfo=UTC),
        "promised_by": date(2026, 12, 4),
        "freight": Decimal("3.90"),
    }  # fmt: skip
    values.update(overrides)
    return Order(**values)


def make_import_order(external_id: str = "CN-1", **overrides: Any) -> Order:
    """An order into China (CBEC import): needs the buyer's resident identity card number."""
    base = {
        "channel": "tmall-global",
        "seller_id": "seller-au-health",
        "direction": Direction.IMPORT,
        "currency": "CNY",
        "origin_country": "AU",
        "buyer": Buyer(name="Zhang Wei", telephone="13800138000", id_type="1",
                       id_number=RESIDENT_ID),
        "consignee": Address(name="Zhang Wei", telephone="13800138000", line1="1 Renmin Road",
                             city="Zhengzhou", postcode="450000", country="CN"),
        "lines": [OrderLine(sku="FORMULA-1", description="Infant formula 900g", hs_code="190110",
                            qty=2, unit_price=Decimal("238.00"))],
        "freight": Decimal("0"),
    }  # fmt: skip
    base.update(overrides)
    return make_order(external_id, **base)
