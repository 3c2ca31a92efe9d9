"""Japan, Korea, Canada and Australia: worked examples at and around every threshold and date.

Quoted through the kernel (``quote_frames``) so the optional order columns (``region``,
``transport``, ``limit_fx``) can be given. Each example cites the source of the rule it checks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xborder.customs.quote_kernel import LINE_SCHEMA, ORDER_SCHEMA, quote_frames
from xborder.customs.regimes import RULES_BY_ID, applied_rules
from xborder.customs.regimes_apac import APAC_RULES
from xborder.customs.tariffs import TariffBook

DAY = date(2026, 8, 1)


def kq(
    destination: str,
    currency: str,
    lines: list[tuple[str, int]],
    *,
    on: date = DAY,
    origin: str = "CN",
    freight: int = 0,
    fx: float | None = None,
    book: TariffBook | None = None,
    **optional: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Quote one order (lines: HS code, value in minor units); the order row and its lines."""
    order = {
        "rec": 1,
        "date": on,
        "origin": origin,
        "destination": destination,
        "incoterm": "DAP",
        "currency": currency,
        "fx": fx,
        "freight_minor": freight,
        "insurance_minor": 0,
        "customs_mode": None,
        "annual_before_minor": None,
    }
    rows = [
        {"rec": 1, "line": i, "hs_code": hs, "qty": 1, "unit_minor": value}
        for i, (hs, value) in enumerate(lines)
    ]
    frame = pl.DataFrame([order], schema=ORDER_SCHEMA).with_columns(
        pl.lit(v).alias(k) for k, v in optional.items()
    )
    result = quote_frames(frame, pl.DataFrame(rows, schema=LINE_SCHEMA), book)
    return result.orders.row(0, named=True), result.lines.to_dicts()


# --- Japan --------------------------------------------------------------------------------------
# Japan Customs Answer 1006: total customs value <= JPY 10,000 exempt of duty and consumption tax.
# Answer 1405 (3) and trade sources: private-use imports valued at 60 % of the retail price; CIF.
@pytest.mark.parametrize(
    ("goods", "freight", "channel"),
    [
        (16_666, 0, "small_exempt"),  # 0.6 x 16,666 = 9,999.6 <= 10,000
        (16_667, 0, "import"),  # 10,000.2 > 10,000
        (16_665, 1, "small_exempt"),  # 9,999 + 1 freight = 10,000 exactly
        (16_665, 2, "import"),  # 10,001
    ],
)
def test_japan_10000_yen_threshold_on_60_percent_cif_value(
    goods: int, freight: int, channel: str
) -> None:
    order, _ = kq("JP", "JPY", [("851830", goods)], freight=freight)
    assert order["channel"] == channel
    if channel == "import":
        # 8518 duty 0; consumption tax 10 % on customs value + duty (Answer 1111)
        value = goods * 0.6 + freight
        assert order["customs_value_minor"] == round(value)
        assert order["vat_minor"] == int(value * 0.10 + 0.5)
    else:
        assert (order["duty_minor"], order["vat_minor"]) == (0, 0)


def test_japan_designated_goods_stay_taxed_under_the_threshold() -> None:
    # Knitted clothing (ch. 61) is not covered by the exemption (secondary source, see rule)
    order, lines = kq("JP", "JPY", [("851830", 5_000), ("610910", 5_000)])
    assert order["channel"] == "small_exempt"
    headphones, tshirt = lines
    assert (headphones["duty_minor"], headphones["vat_minor"]) == (0, 0)
    assert tshirt["duty_minor"] == 327  # 3,000 x 10.9 % (jp.csv ch. 61)
    assert tshirt["vat_minor"] == 333  # (3,000 + 327) x 10 %


def test_japan_consumption_tax_dates_and_reduced_food_rate() -> None:
    # Consumption Tax Act: 8 % until 2019-09-30, 10 % from 2019-10-01, food 8 % (reduced)
    goods = [("851830", 100_000)]
    before, _ = kq("JP", "JPY", goods, on=date(2019, 9, 30))
    after, _ = kq("JP", "JPY", goods, on=date(2019, 10, 1))
    assert (before["vat_minor"], after["vat_minor"]) == (4_800, 6_000)
    tea, lines = kq("JP", "JPY", [("090210", 100_000)], on=date(2019, 10, 1))
    duty = lines[0]["duty_minor"]
    assert duty == 10_200  # 60,000 x 17 %
    assert tea["vat_minor"] == round((60_000 + duty) * 0.08)
    assert "reduced 8 %" in lines[0]["vat_source"]


def test_japan_before_the_confirmed_date_and_liquor_are_refused() -> None:
    early, _ = kq("JP", "JPY", [("851830", 5_000)], on=date(2015, 12, 31))
    assert early["error"] is not None and early["total_tax_minor"] is None  # refused
    wine, _ = kq("JP", "JPY", [("220421", 5_000)])
    assert "excise taxes in JP are not modelled" in wine["error"]


# --- Korea --------------------------------------------------------------------------------------
# Customs Act art. 94 / list clearance: goods price <= USD 150 (USD 200 from the US, KORUS)
# exempt of duty and VAT; above, duty and VAT 10 % on the CIF value (krutils.com, 2026).
@pytest.mark.parametrize(
    ("goods", "origin", "hs", "channel"),
    [
        (210_000, "CN", "851830", "list_clearance"),  # 150 x 1,400 = 210,000 KRW
        (210_001, "CN", "851830", "import"),
        (280_000, "US", "851830", "list_clearance"),  # 200 x 1,400
        (280_001, "US", "851830", "import"),
        (280_000, "US", "330499", "import"),  # cosmetics: general clearance, USD 150
        (210_000, "US", "330499", "list_clearance"),
    ],
)
def test_korea_usd_limit_at_the_days_rate(goods: int, origin: str, hs: str, channel: str) -> None:
    order, _ = kq("KR", "KRW", [(hs, goods)], origin=origin, limit_fx=1400.0)
    assert order["channel"] == channel
    assert (order["total_tax_minor"] == 0) == (channel == "list_clearance")


def test_korea_import_duty_and_vat_on_cif() -> None:
    order, _ = kq("KR", "KRW", [("610910", 300_000)], freight=20_000, limit_fx=1400.0)
    assert order["duty_minor"] == 41_600  # 320,000 x 13 %
    assert order["vat_minor"] == 36_160  # (320,000 + 41,600) x 10 %


def test_korea_usd_order_compares_in_usd_and_needs_a_rate_otherwise() -> None:
    at, _ = kq("KR", "USD", [("851830", 15_000)], fx=1400.0)
    over, _ = kq("KR", "USD", [("851830", 15_001)], fx=1400.0)
    assert (at["channel"], over["channel"]) == ("list_clearance", "import")
    assert at["fx_rate"] == 1400.0
    missing, _ = kq("KR", "KRW", [("851830", 100_000)])
    assert missing["error"].startswith("limit_fx:")
    early, _ = kq("KR", "KRW", [("851830", 100_000)], on=date(2025, 12, 31), limit_fx=1400.0)
    assert early["error"].startswith("date: no KR low-value rule")


# --- Canada -------------------------------------------------------------------------------------
# CBSA Customs Notice 20-18 and "Increase to low-value shipment thresholds": CAD 20 by mail or
# courier from anywhere; courier from US/MX (from 2020-07-01): CAD 40 duty and tax free, CAD 150
# duty free. Customs Act s.48: value for duty excludes transport (FOB). GST 5 %.
@pytest.mark.parametrize(
    ("goods", "origin", "transport", "on", "reason"),
    [
        (2_000, "CN", None, DAY, "ca_lvs"),
        (2_001, "CN", None, DAY, "ca_import_gst"),
        (4_000, "US", "courier", DAY, "ca_cusma_free"),
        (4_001, "US", "courier", DAY, "ca_cusma_taxes_gst"),
        (15_000, "MX", "courier", DAY, "ca_cusma_taxes_gst"),
        (15_001, "US", "courier", DAY, "ca_import_gst"),
        (2_001, "US", "post", DAY, "ca_import_gst"),
        (4_000, "US", "courier", date(2020, 6, 30), "ca_import_gst"),
        (4_000, "US", "courier", date(2020, 7, 1), "ca_cusma_free"),
    ],
)
def test_canada_thresholds(
    goods: int, origin: str, transport: str | None, on: date, reason: str
) -> None:
    order, _ = kq("CA", "CAD", [("610910", goods)], origin=origin, on=on, transport=transport)
    assert order["reason_code"] == reason
    duty = order["duty_minor"]
    if reason == "ca_import_gst":
        assert duty == round(goods * 0.18)  # ca.csv ch. 61
    if reason in ("ca_lvs", "ca_cusma_free"):
        assert order["total_tax_minor"] == 0
    else:
        assert order["vat_minor"] == round((goods + duty) * 0.05)


def test_canada_cusma_band_without_transport_is_refused() -> None:
    order, _ = kq("CA", "CAD", [("610910", 3_000)], origin="US")
    assert order["error"].startswith("transport:")
    small, _ = kq("CA", "CAD", [("610910", 1_500)], origin="US")
    assert small["error"] is None and small["reason_code"] == "ca_lvs"


def test_canada_hst_by_province_and_fob_value() -> None:
    # Excise Tax Act s.212.1, CBSA D17-1-22: HST in participating provinces; NS 14 % from 2025-04-01
    goods = [("851830", 10_000)]  # duty 0
    on = kq("CA", "CAD", goods, freight=5_000, region="ON")[0]
    assert (on["customs_value_minor"], on["vat_minor"], on["reason_code"]) == (
        10_000,
        1_300,
        "ca_import",
    )
    ns_before = kq("CA", "CAD", goods, region="ns", on=date(2025, 3, 31))[0]
    ns_after = kq("CA", "CAD", goods, region="NS", on=date(2025, 4, 1))[0]
    assert (ns_before["vat_minor"], ns_after["vat_minor"]) == (1_500, 1_400)
    bc = kq("CA", "CAD", goods, region="BC")[0]
    assert (bc["vat_minor"], bc["reason_code"]) == (500, "ca_import_gst")
    ab = kq("CA", "CAD", goods, region="AB")[0]
    assert (ab["vat_minor"], ab["reason_code"]) == (500, "ca_import")
    tea = kq("CA", "CAD", [("090210", 10_000)], region="ON")[0]
    assert tea["vat_minor"] == 0  # basic groceries zero-rated (ETA Sch. VI Part III)


# --- Australia ----------------------------------------------------------------------------------
# GST Act Div. 84 (from 2018-07-01): low value goods <= AUD 1,000 customs value, GST 10 % at the
# point of sale; no duty. Above: duty on the customs value (FOB), GST on value + duty + T&I.
def test_australia_low_value_goods_and_import() -> None:
    lvg, _ = kq("AU", "AUD", [("610910", 100_000)], freight=2_000)
    assert (lvg["channel"], lvg["collected_at"], lvg["duty_minor"]) == (
        "point_of_sale",
        "checkout",
        0,
    )
    assert lvg["vat_minor"] == 10_200  # 10 % of (1,000.00 + 20.00)
    over, _ = kq("AU", "AUD", [("610910", 100_001)], freight=2_000)
    assert over["channel"] == "import"
    assert over["customs_value_minor"] == 100_001  # FOB
    assert over["duty_minor"] == 5_000  # 5 % of 1,000.01
    assert over["vat_minor"] == 10_700  # 10 % of (1,000.01 + 50.00 + 20.00)


def test_australia_before_vendor_collection_and_gst_free_food() -> None:
    before, _ = kq("AU", "AUD", [("610910", 50_000)], on=date(2018, 6, 30))
    after, _ = kq("AU", "AUD", [("610910", 50_000)], on=date(2018, 7, 1))
    assert (before["channel"], before["total_tax_minor"]) == ("low_value_exempt", 0)
    assert (after["channel"], after["vat_minor"]) == ("point_of_sale", 5_000)
    milk, _ = kq("AU", "AUD", [("040221", 50_000)])
    assert milk["vat_minor"] == 0  # GST Act s.38-2: food GST-free


def test_fx_rate_and_exact_tariff_are_reported() -> None:
    order, _ = kq("JP", "CNY", [("851830", 100_000)], fx=20.5)
    assert order["fx_rate"] == 20.5
    assert order["goods_minor"] == 20_500  # CNY 1,000.00 -> JPY 20,500 (0 minor digits)
    assert order["exact_tariff"] is False
    same, _ = kq("JP", "JPY", [("851830", 1_000)])
    assert same["fx_rate"] is None


# --- properties -----------------------------------------------------------------------------------
DESTS = [("JP", "JPY"), ("KR", "KRW"), ("CA", "CAD"), ("AU", "AUD"), ("DE", "EUR"), ("US", "USD")]


@settings(max_examples=30, deadline=None)
@given(
    dest=st.sampled_from(DESTS),
    values=st.lists(st.integers(1, 3_000_000), min_size=1, max_size=4),
    freight=st.integers(0, 50_000),
    origin=st.sampled_from(["CN", "US", "MX"]),
    day=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
)
def test_components_add_up(
    dest: tuple[str, str], values: list[int], freight: int, origin: str, day: date
) -> None:
    codes = ["851830", "610910", "330499", "090210"]
    lines = [(codes[i % 4], v) for i, v in enumerate(values)]
    order, out = kq(
        dest[0], dest[1], lines, on=day, origin=origin, freight=freight,
        limit_fx=1400.0, transport="courier", region="ON",
    )  # fmt: skip
    assert order["error"] is None
    parts = ("duty_minor", "additional_duty_minor", "vat_minor", "ct_minor")
    assert order["total_tax_minor"] == sum(order[p] for p in parts)
    value = order["goods_minor"] + order["fi_minor"]
    assert order["landed_minor"] == value + order["total_tax_minor"] + order["fees_minor"]
    for key in ("duty_minor", "vat_minor", "ct_minor", "additional_duty_minor"):
        assert order[key] == sum(ln[key] for ln in out)


@settings(max_examples=60, deadline=None)
@given(
    regime=st.sampled_from(["JP", "KR", "CA", "AU", "CN", "EU", "GB", "US"]),
    day=st.dates(date(2014, 1, 1), date(2030, 12, 31)),
    origin=st.sampled_from(["CN", "US", "MX", "DE"]),
)
def test_a_quote_uses_only_rules_in_force_on_its_date(regime: str, day: date, origin: str) -> None:
    for channel in ("import", "small_exempt", "point_of_sale", "cbec", "ioss", "entry"):
        for rid in applied_rules(regime, channel, day, origin):
            assert RULES_BY_ID[rid].in_force(day), (rid, day)


def test_every_apac_rule_is_sourced_and_one_per_kind_at_a_time() -> None:
    for rule in APAC_RULES:
        assert len(rule.source) > 20 and rule.summary
    for a in APAC_RULES:
        for b in APAC_RULES:
            if a.id < b.id and (a.regime, a.kind) == (b.regime, b.kind):
                a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
                assert a_end < b.valid_from or b_end < a.valid_from, (a.id, b.id)


@pytest.mark.parametrize(("dest", "currency"), [("CA", "CAD"), ("AU", "AUD"), ("JP", "JPY")])
def test_dates_before_the_first_confirmed_day_are_refused(dest: str, currency: str) -> None:
    # rules and tariff rows of regimes_apac start on 2016-01-01 (first confirmed date)
    before, _ = kq(dest, currency, [("851830", 1_000)], on=date(2015, 12, 31), limit_fx=1.0)
    first, _ = kq(dest, currency, [("851830", 1_000)], on=date(2016, 1, 1), limit_fx=1.0)
    assert before["error"] is not None and before["landed_minor"] is None
    assert first["error"] is None and first["landed_minor"] is not None


def test_the_json_quote_reaches_the_new_regimes() -> None:
    from tests.customs.support import quote

    request = {
        "date": "2026-08-01",
        "origin": "CN",
        "destination": "AU",
        "currency": "AUD",
        "freight": "10.00",
        "lines": [{"hs_code": "851830", "qty": 1, "unit_price": "200.00"}],
    }
    result = quote(request)
    assert (result["channel"], result["vat"], result["collected_at"]) == (
        "point_of_sale",
        "21.00",  # 10 % of (200 + 10): GST Act Div. 84
        "checkout",
    )
    assert [r["id"] for r in result["rules"]] == ["AU.LVT1000", "AU.LVG", "AU.VALUE"]
