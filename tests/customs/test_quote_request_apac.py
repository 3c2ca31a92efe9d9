"""Requests to Korea and Canada through the service: the inputs those regimes need (the USD
limit rate for Korea, the province and the transport for Canada) come from the request and the
FX table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from xborder.domain.errors import InvalidValue
from xborder.domain.money import FxRate, FxTable
from xborder.services.customs_quote import quote_many

ON = date(2026, 3, 2)
# Test rates, not market quotes: 1 USD = 1,400 KRW; 1 CNY = 190 KRW.
FX = FxTable.of(
    [
        FxRate(date(2026, 1, 1), "USD", "KRW", Decimal("1400"), "test"),
        FxRate(date(2026, 1, 1), "CNY", "KRW", Decimal("190"), "test"),
        FxRate(date(2026, 1, 1), "CNY", "CAD", Decimal("0.19"), "test"),
    ]
)


def _kr(unit_price: str, currency: str = "KRW", **extra: Any) -> dict[str, Any]:
    return {
        "date": ON.isoformat(),
        "origin": "CN",
        "destination": "KR",
        "currency": currency,
        "lines": [{"hs_code": "950300", "qty": 1, "unit_price": unit_price}],
        **extra,
    }


def test_korea_limit_in_usd_is_converted_with_the_table_rate() -> None:
    # KR.LIST150: goods price <= USD 150 (Customs Act art. 94; see regimes_apac for the source);
    # at 1,400 KRW per USD the limit is KRW 210,000.
    under, over = quote_many([_kr("210000"), _kr("210001")], ON, fx=FX)
    assert under["channel"] == "list_clearance"
    assert Decimal(under["total_tax"]) == 0
    assert over["channel"] == "import"
    assert Decimal(over["total_tax"]) > 0


def test_korea_without_a_usd_rate_is_refused_naming_the_rate() -> None:
    no_usd = FxTable.of([FxRate(date(2026, 1, 1), "CNY", "KRW", Decimal("190"), "test")])
    (row,) = quote_many([_kr("1000", "CNY")], ON, fx=no_usd)
    assert row.get("error"), row


def test_canada_province_and_transport_come_from_the_request() -> None:
    base = {
        "date": ON.isoformat(),
        "origin": "US",
        "destination": "CA",
        "currency": "CAD",
        "lines": [{"hs_code": "950300", "qty": 1, "unit_price": "100.00"}],
    }
    courier_on, post_on = quote_many(
        [{**base, "transport": "courier", "region": "on"}, {**base, "transport": "post"}],
        ON,
        fx=FX,
    )
    # CA.CUSMA: courier goods from the US <= CAD 150 are duty-free (taxed above CAD 40); by post
    # the CAD 20 limit applies (CBSA Customs Notice 20-18).
    assert courier_on["channel"] == "cusma_duty_free"
    assert post_on["channel"] == "import"
    assert Decimal(courier_on["duty"]) == 0


def test_transport_must_be_courier_or_post() -> None:
    (row,) = quote_many([{**_kr("1000"), "transport": "ship"}], ON, fx=FX)
    assert "transport" in str(row["error"])
    with pytest.raises(InvalidValue):
        from xborder.customs.quote_input import parse_request

        parse_request({**_kr("1000"), "region": 5}, 0, ON)
