"""The explanation of a quote: which rule decided each component, what was considered and did not
apply, the FX rate and its date, and "estimate" unless everything came from verified rules in force
with exact tariff lines. Built on kernel frames made here (the kernel's new columns are given)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from xborder.customs.explain import FxUsed, explain
from xborder.customs.quote_input import result_records
from xborder.customs.quote_kernel import QuoteResult
from xborder.domain.money import FxRate, FxTable
from xborder.services.customs_quote import rate_used


def result(**order: Any) -> QuoteResult:
    row: dict[str, Any] = {
        "rec": 0,
        "date": date(2026, 12, 2),
        "regime": "US",
        "destination": "US",
        "channel": "entry",
        "eligible": False,
        "reason_code": "us_suspended",
        "cbec_reason": None,
        "single_minor": None,
        "annual_minor": None,
        "annual_before_minor": None,
        "qty_total": 1,
        "origin": "CN",
        "tax_currency": "USD",
        "goods_minor": 10_000,
        "fi_minor": 0,
        "value_minor": 10_000,
        "customs_value_minor": 10_000,
        "duty_minor": 0,
        "additional_duty_minor": 0,
        "vat_minor": 0,
        "ct_minor": 0,
        "fees_minor": 0,
        "total_tax_minor": 0,
        "landed_minor": 10_000,
        "annual_after_minor": None,
        "collected_at": "checkout",
        "tax_payer": "seller",
        "incoterm": "DDP",
        "error": None,
        "measure_ids": None,
        "fee_ids": None,
        "exact_tariff": False,
        "fx_rate": None,
    }
    row.update(order)
    orders = pl.DataFrame(
        [row],
        schema_overrides={
            "error": pl.String,
            "cbec_reason": pl.String,
            "single_minor": pl.Int64,
            "annual_minor": pl.Int64,
            "annual_before_minor": pl.Int64,
            "annual_after_minor": pl.Int64,
        },
    )
    lines = pl.DataFrame(
        [
            {
                "rec": 0,
                "line": 0,
                "hs_code": order.get("hs_code", "330499"),
                "qty": 1,
                "value_minor": 10_000,
                "base_minor": 10_000,
                "duty_eff": 0.0,
                "vat_eff": 0.0,
                "ct_eff": 0.0,
                "duty_minor": 0,
                "vat_minor": 0,
                "ct_minor": 0,
                "tariff_source": "HTSUS 2025",
                "vat_source": None,
            }
        ]
    )
    return QuoteResult(orders.drop("hs_code", strict=False), lines)


def status(found: dict[str, Any], rule_id: str) -> tuple[str, str]:
    entry = next(r for r in found["rules"] if r["id"] == rule_id)
    return entry["status"], entry["reason"]


def test_us_quote_says_de_minimis_was_suspended_not_applied() -> None:
    # EO 14324: de minimis suspended for all origins from 2025-08-29 (US.SUSPEND.ALL).
    found = explain(result(origin="DE"))[0]
    assert status(found, "US.DEMINIMIS800") == ("not applicable", "suspended by US.SUSPEND.ALL")
    assert status(found, "US.SUSPEND.ALL")[0] == "applied"
    assert status(found, "US.VALUE")[0] == "applied"
    assert status(found, "US.SUSPEND.CNHK")[0] == "not applicable"  # DE is not CN/HK
    assert found["decided_by"]["customs_value"] == ["US.VALUE"]
    assert found["decided_by"]["duty"] == ["US.SUSPEND.ALL", "tariff: HTSUS 2025"]


def test_before_the_suspension_the_de_minimis_rule_applied_and_suspensions_were_not_in_force() -> (
    None
):
    found = explain(
        result(date=date(2025, 4, 1), channel="de_minimis", eligible=True, reason_code="x")
    )[0]
    assert status(found, "US.DEMINIMIS800")[0] == "applied"
    assert status(found, "US.SUSPEND.ALL") == ("not in force", "valid 2025-08-29..open")


def test_over_the_threshold_the_de_minimis_rule_is_not_applicable_with_the_reason() -> None:
    found = explain(result(date=date(2025, 4, 1), reason_code="us_over"))[0]
    assert status(found, "US.DEMINIMIS800") == (
        "not applicable",
        "over the USD 800 de minimis: duty at the HTS rate",
    )


def test_estimate_unless_exact_tariff_and_nothing_unverified_left_off() -> None:
    # 2026-03-01, DE origin, DDP: Section 122 (verified) and the FY2026 MPF (verified) apply,
    # no unverified measure or fee would: exact when the tariff line is exact.
    exact = result(
        date=date(2026, 3, 1),
        origin="DE",
        exact_tariff=True,
        measure_ids="US.S122.10",
        fee_ids="US.MPF.INFORMAL.FY2026",
    )
    found = explain(exact)[0]
    assert found["estimate"] is False and found["estimate_reasons"] == []
    assert found["decided_by"]["additional_duty"] == ["US.S122.10"]
    assert found["decided_by"]["fees"] == ["US.MPF.INFORMAL.FY2026"]
    heading_level = explain(result(date=date(2026, 3, 1), origin="DE", exact_tariff=False))[0]
    assert heading_level["estimate"] is True
    assert "heading-level" in heading_level["estimate_reasons"][0]


def test_unverified_measure_or_fee_that_would_apply_makes_an_estimate() -> None:
    # a smartphone on 2026-03-01: the Section 122 electronics exemption is unverified;
    # on 2026-12-02 the FY2027 MPF amounts are unverified.
    phone = explain(
        result(date=date(2026, 3, 1), origin="DE", exact_tariff=True, hs_code="851713")
    )[0]
    assert phone["estimate"] is True
    assert phone["estimate_reasons"] == ["unverified measures left off: US.S122.10"]
    assert any(m["id"] == "US.S122.10" and m["status"] == "left off" for m in phone["measures"])
    today = explain(result(origin="DE", exact_tariff=True))[0]
    assert today["estimate_reasons"] == ["unverified fees left off: US.MPF.INFORMAL.FY2027"]
    assert today["fees"] == [
        {
            "id": "US.MPF.INFORMAL.FY2027",
            "status": "left off",
            "reason": "unverified",
            "source": "19 CFR 24.23(b)(2)(i); FY2027 adjustment notice not found",
        }
    ]


def test_measures_considered_show_which_ended_and_which_apply() -> None:
    found = explain(
        result(date=date(2026, 12, 2), origin="CN", measure_ids="US.301.L4A.7_5", hs_code="610910")
    )[0]
    by_id = {m["id"]: m for m in found["measures"]}
    assert by_id["US.301.L4A.7_5"]["status"] == "applied"
    assert by_id["US.S122.10"] == {
        "id": "US.S122.10",
        "status": "not in force",
        "reason": "valid 2026-02-24..2026-07-23",
        "source": by_id["US.S122.10"]["source"],
    }
    assert by_id["US.IEEPA.FENT.10R"]["status"] == "not in force"
    assert by_id["US.301.L3.25"]["status"] == "not applicable"  # in force, 6109 not in scope
    assert "US.IEEPA.RECIP.KR" not in by_id  # another origin's measure is not considered


def test_fx_rate_and_its_date_are_shown_when_the_quote_converts() -> None:
    used = FxUsed("CNY", "EUR", Decimal("0.1280"), date(2026, 11, 30), "ECB reference rate")
    record = result_records(
        result(regime="EU", destination="DE", channel="import", tax_currency="EUR",
               reason_code="eu_import", fx_rate=0.128),
        {0: used},
    )[0]  # fmt: skip
    assert record["fx"] == {
        "from": "CNY",
        "to": "EUR",
        "rate": "0.1280",
        "date": "2026-11-30",
        "source": "ECB reference rate",
    }
    assert record["additional_duty"] == "0.00" and record["estimate"] is True
    rules = {r["id"]: r["status"] for r in record["explanation"]["rules"]}
    assert rules["EU.IOSS"] == "not applicable" and rules["EU.VALUE"] == "applied"
    same_currency = result_records(result())[0]
    assert same_currency["fx"] is None


def test_rate_used_gives_the_date_of_the_table_row_direct_inverse_and_cross() -> None:
    table = FxTable.of(
        [
            FxRate(date(2026, 11, 1), "EUR", "CNY", Decimal("7.80"), "ECB 2026-11-01"),
            FxRate(date(2026, 11, 30), "EUR", "CNY", Decimal("7.90"), "ECB 2026-11-30"),
            FxRate(date(2026, 11, 15), "USD", "CNY", Decimal("7.10"), "PBoC 2026-11-15"),
        ]
    )
    direct = rate_used(table, "EUR", "CNY", date(2026, 11, 29))
    assert (direct.rate, direct.on, direct.source) == (
        Decimal("7.80"),
        date(2026, 11, 1),
        "ECB 2026-11-01",
    )
    inverse = rate_used(table, "CNY", "EUR", date(2026, 12, 2))
    assert inverse.on == date(2026, 11, 30) and inverse.rate == Decimal(1) / Decimal("7.90")
    cross = rate_used(table, "USD", "EUR", date(2026, 12, 2))
    assert cross.on == date(2026, 11, 15) and cross.source.startswith("cross rate via CNY")
