"""Import fees: US merchandise processing fee by entry type and fiscal year, carrier disbursement,
national handling fees. Worked examples at and around each boundary (sources in ``fees.csv``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from xborder.customs.fees import parse_fees, shipped_fees, with_fees
from xborder.domain.errors import InvalidValue


def orders_of(*rows: dict[str, Any]) -> pl.DataFrame:
    defaults: dict[str, Any] = {
        "date": "2026-03-01",
        "regime": "US",
        "destination": "US",
        "origin": "CN",
        "channel": "entry",
        "incoterm": "DDP",
        "goods_minor": 10_000,
        "customs_value_minor": None,
        "duty_minor": 0,
        "additional_duty_minor": 0,
        "total_tax_minor": 0,
        "tax_currency": "USD",
        "error": None,
    }
    full = []
    for i, row in enumerate(rows):
        merged = {**defaults, **row, "rec": i}
        merged["date"] = date.fromisoformat(merged["date"])
        if merged["customs_value_minor"] is None:
            merged["customs_value_minor"] = merged["goods_minor"]
        full.append(merged)
    return pl.DataFrame(full, schema_overrides={"error": pl.String})


def fees(unverified: bool = False, **row: Any) -> tuple[int, str | None]:
    out = with_fees(orders_of(row), include_unverified=unverified)
    return int(out.get_column("fees_minor")[0]), out.get_column("fee_ids")[0]


# --- US merchandise processing fee (19 CFR 24.23) ------------------------------------------------
def test_informal_entry_mpf_changes_with_the_fiscal_year_on_october_1() -> None:
    # FY2025 USD 2.62 (CSMS #61620300);
    # FY2026 USD 2.69 from 2025-10-01 (CBP Dec. 25-10, 90 FR 34665).
    assert fees(date="2025-09-30") == (262, "US.MPF.INFORMAL.FY2025")
    assert fees(date="2025-10-01") == (269, "US.MPF.INFORMAL.FY2026")
    assert fees(date="2026-09-30") == (269, "US.MPF.INFORMAL.FY2026")


def test_fy2027_amounts_are_unverified_and_left_off_by_default() -> None:
    assert fees(date="2026-10-01") == (0, None)
    assert fees(date="2026-10-01", unverified=True) == (269, "US.MPF.INFORMAL.FY2027")


def test_informal_up_to_usd_2500_formal_above_with_minimum_and_maximum() -> None:
    # 19 CFR 143.21(a): informal entry up to USD 2,500.
    # Formal: 0.3464 %, FY2026 minimum USD 33.58, maximum USD 651.50 (90 FR 34665).
    assert fees(goods_minor=250_000) == (269, "US.MPF.INFORMAL.FY2026")
    assert fees(goods_minor=250_001) == (3_358, "US.MPF.FORMAL.FY2026")  # 8.66 < minimum
    assert fees(goods_minor=2_000_000) == (6_928, "US.MPF.FORMAL.FY2026")  # 0.3464 % of 20,000
    assert fees(goods_minor=20_000_000_00) == (65_150, "US.MPF.FORMAL.FY2026")  # maximum


def test_formal_mpf_is_rounded_half_up_exactly() -> None:
    # 0.3464 % of USD 12,345.67 = 42.7654... -> 42.77; of 10,000.00 = 34.64 exactly.
    assert fees(goods_minor=1_234_567)[0] == 4_277
    assert fees(goods_minor=1_000_000)[0] == 3_464


def test_no_mpf_under_de_minimis_or_for_another_regime_or_an_order_in_error() -> None:
    assert fees(channel="de_minimis", date="2025-04-01") == (0, None)
    assert fees(regime="GB", destination="GB", channel="import", tax_currency="GBP") == (0, None)
    assert fees(error="lines[0].hs_code: no tariff row") == (0, None)


# --- carrier disbursement ------------------------------------------------------------------------
def test_carrier_disbursement_is_unverified_and_only_where_the_buyer_pays_at_delivery() -> None:
    assert fees(incoterm="DAP", total_tax_minor=5_000) == (269, "US.MPF.INFORMAL.FY2026")
    both = "CARRIER.DISBURSEMENT.US,US.MPF.INFORMAL.FY2026"
    # illustrative model: 2 % of USD 50 = 1.00, minimum USD 15
    assert fees(unverified=True, incoterm="DAP", total_tax_minor=5_000) == (269 + 1_500, both)
    assert fees(unverified=True, incoterm="DAP", total_tax_minor=100_000) == (269 + 2_000, both)
    assert fees(unverified=True, incoterm="DDP", total_tax_minor=5_000)[1] == (
        "US.MPF.INFORMAL.FY2026"
    )
    assert fees(unverified=True, incoterm="DAP", total_tax_minor=0)[1] == "US.MPF.INFORMAL.FY2026"


# --- national handling fees ----------------------------------------------------------------------
EU: dict[str, Any] = {
    "regime": "EU",
    "channel": "ioss",
    "tax_currency": "EUR",
    "goods_minor": 5_000,
}


def test_italy_handling_fee_verified_from_2026_07_01_earlier_period_unverified() -> None:
    # Law 199/2025 art. 1 par. 126-128: EUR 2 per consignment <= EUR 150 from non-EU countries.
    assert fees(destination="IT", date="2026-06-30", **EU) == (0, None)
    assert fees(destination="IT", date="2026-06-30", unverified=True, **EU) == (
        200,
        "IT.HANDLING.2026",
    )
    assert fees(destination="IT", date="2026-07-01", **EU) == (200, "IT.HANDLING.2026")
    assert fees(destination="IT", date="2026-07-01", origin="FR", **EU) == (0, None)
    assert fees(destination="IT", date="2026-07-01", **{**EU, "goods_minor": 15_001}) == (0, None)
    assert fees(destination="IT", date="2026-07-01", **{**EU, "goods_minor": 15_000})[0] == 200


def test_eu_handling_fee_proposal_is_unverified() -> None:
    assert fees(destination="DE", date="2026-11-01", **EU) == (0, None)
    assert fees(destination="DE", date="2026-10-31", unverified=True, **EU) == (0, None)
    assert fees(destination="DE", date="2026-11-01", unverified=True, **EU) == (
        200,
        "EU.HANDLING.2026",
    )


def test_japan_has_no_fee_row() -> None:
    assert shipped_fees().filter(pl.col("importer") == "JP").is_empty()


def test_a_fee_in_another_currency_than_the_tax_currency_never_applies() -> None:
    header = (
        "id,importer,origins,exclude_origins,channels,incoterms,value_base,value_from_minor,"
        "value_to_minor,kind,rate,amount_minor,min_minor,max_minor,currency,valid_from,valid_to,"
        "verified,source,note"
    )
    table = parse_fees(f"{header}\nX,US,*,,*,*,goods,,,flat,,100,,,EUR,2020-01-01,,yes,s,\n")
    out = with_fees(orders_of({}), table=table)
    assert out.get_column("fees_minor").to_list() == [0]
    with pytest.raises(InvalidValue, match="row 1 kind"):
        parse_fees(f"{header}\nX,US,*,,*,*,goods,,,weird,,100,,,USD,2020-01-01,,yes,s,\n")
    with pytest.raises(InvalidValue, match="row 1 amount_minor"):
        parse_fees(f"{header}\nX,US,*,,*,*,goods,,,flat,,,,,USD,2020-01-01,,yes,s,\n")


# --- a batch resolves each distinct key once: the same result as each order alone ---------------
@pytest.mark.parametrize("unverified", [False, True])
def test_a_batch_of_orders_sharing_keys_gives_each_order_its_own_result(unverified: bool) -> None:
    # 48 orders over a few keys (dates across the FY change, incoterms, channels, IT and US):
    # the value band, the minimum and the percentage of tax depend on each order's amounts.
    days = ["2025-09-30", "2025-10-01", "2026-07-01"]
    values = [15_000, 15_001, 250_000, 250_001, 1_234_567, 30_000_000]
    rows: list[dict[str, Any]] = []
    for i in range(48):
        italy = i % 4 == 0
        rows.append(
            {
                "date": days[i % 3],
                "incoterm": ("DDP", "DAP")[i // 3 % 2],
                "goods_minor": values[i % 6],
                "total_tax_minor": (0, 5_000, 100_000)[i // 2 % 3],
                **(
                    {"destination": "IT", "channel": "ioss", **{k: EU[k] for k in EU}}
                    if italy
                    else {}
                ),
                **({"error": "lines[0].hs_code: no tariff row"} if i % 13 == 5 else {}),
            }
        )
    batch = with_fees(orders_of(*rows), include_unverified=unverified)
    alone = [with_fees(orders_of(row), include_unverified=unverified) for row in rows]
    assert batch.get_column("fees_minor").to_list() == [int(a["fees_minor"][0]) for a in alone]
    assert batch.get_column("fee_ids").to_list() == [a["fee_ids"][0] for a in alone]
    assert batch.get_column("rec").to_list() == list(range(48))  # order kept
    assert batch.get_column("fees_minor").n_unique() >= 4


def test_a_fee_id_with_a_verified_and_an_unverified_row_counts_once_at_the_verified_row() -> None:
    header = (
        "id,importer,origins,exclude_origins,channels,incoterms,value_base,value_from_minor,"
        "value_to_minor,kind,rate,amount_minor,min_minor,max_minor,currency,valid_from,valid_to,"
        "verified,source,note"
    )
    table = parse_fees(
        f"{header}\nX,US,*,,*,*,goods,,,flat,,900,,,USD,2020-01-01,,no,s,\n"
        "X,US,*,,*,*,goods,,,flat,,100,,,USD,2020-01-01,,yes,s,\n"
        "X,US,*,,*,*,goods,20000,,flat,,500,,,USD,2020-01-01,,no,s,\n"
    )
    out = with_fees(orders_of({}, {"goods_minor": 30_000}), table=table, include_unverified=True)
    assert out.get_column("fees_minor").to_list() == [100, 100]
    assert out.get_column("fee_ids").to_list() == ["X", "X"]
