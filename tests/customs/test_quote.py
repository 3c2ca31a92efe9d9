"""Worked examples of the landed-cost quote, from the sources cited in ``customs.regimes``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.customs.support import QUOTE_DAY, quote
from xborder.domain.errors import InvalidValue
from xborder.domain.money import FxRate, FxTable
from xborder.services.customs import quote_many


def order(
    dest: str = "CN", day: str = "2025-06-01", *lines: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    currency = {"CN": "CNY", "DE": "EUR", "FR": "EUR", "GB": "GBP", "US": "USD", "PL": "PLN"}[dest]
    base = {
        "date": day,
        "origin": "JP",
        "destination": dest,
        "incoterm": "DDP",
        "currency": currency,
        "freight": "0",
        "insurance": "0",
        "lines": list(lines) or [line("330499", "500.00")],
    }
    base.update(kw)
    return base


def line(hs: str, price: str, qty: int = 1, **kw: Any) -> dict[str, Any]:
    return {"hs_code": hs, "description": "goods", "qty": qty, "unit_price": price, **kw}


# --- China CBEC --------------------------------------------------------------------------------
def test_issue_example_500_plus_20_freight_13_percent_vat_is_47_32() -> None:
    result = quote(order(freight="20"))
    assert result["channel"] == "cbec" and result["eligible"] is True
    assert result["customs_value"] == "520.00"
    assert (result["duty"], result["vat"], result["consumption_tax"]) == ("0.00", "47.32", "0.00")
    assert result["total_tax"] == "47.32"
    assert result["landed_cost"] == "567.32"
    assert {r["id"] for r in result["rules"]} >= {"CN.CBEC.2019", "CN.VALUE"}
    assert "Cai Guan Shui [2018] No. 49" in next(
        r["source"] for r in result["rules"] if r["id"] == "CN.CBEC.2019"
    )


def test_consumption_tax_is_in_the_vat_base_and_both_at_70_percent() -> None:
    # P = 520, c = 15 %, v = 13 %:
    # CT = 520/0.85*0.15*0.7 = 64.235..., VAT = 520/0.85*0.13*0.7 = 55.670...
    result = quote(order(freight="20", lines=[line("330499", "500.00", high_end=True)]))
    assert (result["consumption_tax"], result["vat"]) == ("64.24", "55.67")
    assert result["total_tax"] == "119.91"


@pytest.mark.parametrize(
    ("price", "qty", "before", "channel"),
    [
        ("5000.00", 1, "0", "cbec"),  # exactly at the single limit
        ("2500.00", 2, "0", "cbec"),  # 5,000 in two articles
        ("2500.01", 2, "0", "general"),  # over the single limit with two articles
        ("5000.01", 1, "0", "cbec_full"),  # one article over the single limit, within the annual
        ("5000.00", 1, "21000.00", "cbec"),  # exactly at the annual limit
        ("5000.00", 1, "21000.01", "general"),  # one fen over the annual limit
        ("5000.01", 1, "20999.99", "cbec_full"),  # single item, annual exactly 26,000
        ("5000.01", 1, "21000.00", "general"),  # single item, annual one fen over
        ("26000.00", 1, "0", "cbec_full"),  # single item as large as the annual limit
        ("26000.01", 1, "0", "general"),
    ],
)
def test_cbec_limits_at_and_around_their_edges(
    price: str, qty: int, before: str, channel: str
) -> None:
    result = quote(
        order("CN", "2025-06-01", line("330499", price, qty), buyer_annual_total_before=before)
    )
    assert result["channel"] == channel, result["reason"]
    counted = channel in ("cbec", "cbec_full")
    expected_after = Decimal(before) + (Decimal(price) * qty if counted else 0)
    assert Decimal(result["buyer_annual_total_after"]) == expected_after


def test_cbec_full_rate_single_item_pays_duty_vat_at_100_percent() -> None:
    result = quote(order(lines=[line("330499", "6000.00")]))
    assert result["channel"] == "cbec_full"
    # duty 1 % = 60.00; VAT = (6000 + 60) * 13 % = 787.80
    assert (result["duty"], result["vat"], result["total_tax"]) == ("60.00", "787.80", "847.80")
    assert "single-item" in result["reason"]


def test_general_trade_over_the_limit_says_why() -> None:
    result = quote(order(lines=[line("330499", "3000.00", 2)]))
    assert result["channel"] == "general" and result["eligible"] is False
    assert "single-transaction limit RMB 5000.00 exceeded (RMB 6000.00)" in result["reason"]
    assert result["duty"] == "60.00"


def test_2018_limits_were_2000_and_20000_and_vat_16_percent() -> None:
    result = quote(order("CN", "2018-06-01", line("330499", "500.00"), freight="20"))
    assert result["channel"] == "cbec"
    assert result["vat"] == "58.24"  # 520 * 16 % * 70 %
    assert "CN.CBEC.2016" in {r["id"] for r in result["rules"]}
    at_limit = quote(order("CN", "2018-06-01", line("330499", "2000.00")))
    assert at_limit["channel"] == "cbec"
    over = quote(order("CN", "2018-06-01", line("330499", "2000.01")))
    assert over["channel"] == "general"  # no single-item exception before 2019


def test_before_the_cbec_regime_it_is_general_trade() -> None:
    # no tariff rows are shipped before the regime either: the broker gives the rates
    result = quote(
        order("CN", "2016-04-07", line("330499", "100.00", duty_rate="0.1", vat_rate="0.17"))
    )
    assert result["channel"] == "general" and "no CBEC" in result["reason"]


def test_requested_general_trade() -> None:
    result = quote(order(customs_mode="general"))
    assert result["channel"] == "general" and result["duty"] == "5.00"


# --- EU ----------------------------------------------------------------------------------------
def test_eu_flat_3_euro_per_distinct_classification_from_2026_07_01() -> None:
    goods = [line("610910", "20.00", 2), line("851830", "30.00"), line("610910", "5.00")]
    before = quote(order("DE", "2026-06-30", *goods, freight="5"))
    after = quote(order("DE", "2026-07-01", *goods, freight="5"))
    assert before["channel"] == after["channel"] == "ioss"
    assert before["duty"] == "0.00"
    assert after["duty"] == "6.00"  # two distinct classifications, three lines
    # IOSS VAT at the German rate on goods + transport, unchanged by the flat duty
    assert before["vat"] == after["vat"] == "15.20"  # (75 + 5) * 19 %
    assert "EU.FLAT3" in {r["id"] for r in after["rules"]}
    assert "EU.RELIEF150" in {r["id"] for r in before["rules"]}


def test_eu_flat_duty_ends_2028_06_30() -> None:
    last = quote(order("DE", "2028-06-30", line("610910", "100.00")))
    after = quote(order("DE", "2028-07-01", line("610910", "100.00")))
    assert last["duty"] == "3.00"
    assert after["duty"] == "12.00"  # normal duty 12 %


def test_eu_150_euro_threshold_and_normal_import_above() -> None:
    at = quote(order("FR", "2025-06-01", line("610910", "150.00"), freight="10"))
    over = quote(order("FR", "2025-06-01", line("610910", "150.01"), freight="10"))
    assert at["channel"] == "ioss" and at["duty"] == "0.00" and at["vat"] == "32.00"
    assert over["channel"] == "import"
    # duty 12 % of 160.01 = 19.2012 -> 19.20; VAT 20 % of (160.01 + 19.2012) = 35.84224 -> 35.84
    assert (over["duty"], over["vat"]) == ("19.20", "35.84")


def test_eu_vat_rate_is_the_member_states_rate_on_the_date() -> None:
    assert quote(order("FR", "2025-06-01", line("610910", "100.00")))["vat"] == "20.00"
    assert quote(order("DE", "2025-06-01", line("610910", "100.00")))["vat"] == "19.00"


def test_fx_converts_the_order_currency_into_euro() -> None:
    fx = FxTable.of([FxRate(date(2025, 1, 1), "EUR", "PLN", Decimal("4.00"))])
    result = quote(order("PL", "2025-06-01", line("610910", "100.00")), fx=fx)
    assert result["currency"] == "EUR" and result["goods"] == "25.00"
    assert result["vat"] == "5.75"  # Polish 23 %
    with pytest.raises(InvalidValue, match="fx"):
        quote(order("PL", "2025-06-01", line("610910", "100.00")))


# --- UK and US ---------------------------------------------------------------------------------
def test_uk_135_pounds() -> None:
    at = quote(order("GB", "2025-06-01", line("610910", "135.00"), freight="5"))
    over = quote(order("GB", "2025-06-01", line("610910", "135.01"), freight="5"))
    assert at["channel"] == "point_of_sale" and at["duty"] == "0.00" and at["vat"] == "28.00"
    assert over["channel"] == "import"
    assert over["duty"] == "16.80"  # 12 % of 140.01
    assert over["vat"] == "31.36"  # 20 % of (140.01 + 16.8012)


@pytest.mark.parametrize(
    ("origin", "day", "channel"),
    [
        ("CN", "2025-05-01", "de_minimis"),
        ("CN", "2025-05-02", "entry"),
        ("HK", "2025-05-02", "entry"),
        ("DE", "2025-05-02", "de_minimis"),
        ("DE", "2025-08-28", "de_minimis"),
        ("DE", "2025-08-29", "entry"),
    ],
)
def test_us_de_minimis_before_and_after_its_suspensions(
    origin: str, day: str, channel: str
) -> None:
    result = quote(order("US", day, line("610910", "100.00"), origin=origin, freight="10"))
    assert result["channel"] == channel
    if channel == "entry":
        assert result["duty"] == "16.50"  # 16.5 % of the FOB value (freight excluded)
        assert "suspended" in result["reason"]
    else:
        assert result["duty"] == "0.00"


def test_us_800_dollar_edge() -> None:
    at = quote(order("US", "2025-01-01", line("851830", "800.00"), origin="DE"))
    over = quote(order("US", "2025-01-01", line("851830", "800.01"), origin="DE"))
    assert (at["channel"], over["channel"]) == ("de_minimis", "entry")
    assert over["duty"] == "39.20"  # 4.9 % of 800.01


# --- overrides, incoterms, bulk, errors --------------------------------------------------------
def test_broker_override_of_duty_vat_and_consumption_tax_rates() -> None:
    result = quote(
        order(
            "CN",
            "2025-06-01",
            line(
                "330499",
                "1000.00",
                2,
                duty_rate="0.05",
                vat_rate="0.09",
                consumption_tax_rate="0.1",
            ),
            customs_mode="general",
        )
    )
    assert result["channel"] == "general"
    # P = 2000, D = 100, composite = 2100/0.9 = 2333.33...; CT = 233.33; VAT = 210.00
    assert (result["duty"], result["consumption_tax"], result["vat"]) == (
        "100.00",
        "233.33",
        "210.00",
    )
    assert result["lines"][0]["duty_rate"] == 0.05


def test_ddp_and_dap_decide_who_pays_and_when() -> None:
    ddp = quote(order("GB", "2025-06-01", line("610910", "200.00"), incoterm="DDP"))
    dap = quote(order("GB", "2025-06-01", line("610910", "200.00"), incoterm="DAP"))
    assert (ddp["tax_payer"], ddp["collected_at"]) == ("seller", "checkout")
    assert (dap["tax_payer"], dap["collected_at"]) == ("buyer", "delivery")
    pos = quote(order("GB", "2025-06-01", line("610910", "20.00"), incoterm="DAP"))
    assert pos["collected_at"] == "checkout"  # VAT charged at the point of sale


def test_bulk_gives_the_same_answers_as_single_quotes_and_isolates_bad_records() -> None:
    requests: list[Any] = [
        order(freight="20"),
        order("DE", "2026-07-01", line("610910", "30.00")),
        {"destination": "XX"},
        order("US", "2025-08-29", line("610910", "10.00")),
    ]
    results = quote_many(requests, QUOTE_DAY)
    assert [r["record"] for r in results] == [0, 1, 2, 3]
    assert results[2]["error"] == "origin: is required"
    for i in (0, 1, 3):
        single = quote(requests[i])
        bulk = {k: v for k, v in results[i].items() if k != "record"}
        assert bulk == single


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"destination": "BR"}, "destination"),
        ({"freight": "-1"}, "freight"),
        ({"freight": "1.234"}, "freight"),
        ({"currency": "XYZ"}, "currency"),
        ({"customs_mode": "9999"}, "customs_mode"),
        ({"incoterm": "FOB"}, "incoterm"),
        ({"date": "yesterday"}, "date"),
        ({"colour": "red"}, "colour"),
        ({"lines": []}, "lines"),
        ({"lines": [{"hs_code": "330499", "qty": 0, "unit_price": "1"}]}, "lines[0].qty"),
        ({"lines": [{"hs_code": 330499, "qty": 1, "unit_price": "1"}]}, "lines[0].hs_code"),
        ({"lines": [{"hs_code": "330499", "qty": 1, "unit_price": "-1"}]}, "lines[0].unit_price"),
        (
            {"lines": [{"hs_code": "330499", "qty": 1, "unit_price": "1", "vat_rate": "12"}]},
            "lines[0].vat_rate",
        ),
    ],
)
def test_bad_input_names_the_field(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as info:
        quote({**order(), **patch})
    assert info.value.field == field


def test_specific_duty_heading_asks_for_a_rate() -> None:
    with pytest.raises(InvalidValue, match="duty_rate"):
        quote(order("DE", "2025-06-01", line("040221", "200.00")))
    result = quote(order("DE", "2025-06-01", line("040221", "200.00", duty_rate="0.3")))
    assert result["duty"] == "60.00"


def test_a_request_without_a_date_is_quoted_on_the_clocks_today() -> None:
    undated = {k: v for k, v in order("CN", "2018-06-01", line("330499", "2000.01")).items()
               if k != "date"}  # fmt: skip
    result = quote(undated)  # the clock stands at QUOTE_DAY (2025): the 2019 limits apply
    assert (result["date"], result["channel"]) == (QUOTE_DAY.isoformat(), "cbec")
    on_2018 = quote(undated, on=date(2018, 6, 1))  # the RMB 2,000 single limit of 2016
    assert (on_2018["date"], on_2018["channel"]) == ("2018-06-01", "general")
    bulk = quote_many([undated], date(2018, 6, 1))
    assert bulk[0]["channel"] == "general"
