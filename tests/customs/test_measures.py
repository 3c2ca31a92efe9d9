"""Additional duties as dated measures: worked examples at and around every date boundary.

Sources are those of ``data/tariffs/measures_us.csv`` (cited per test). Each boundary is checked on
the day before and the day a measure starts or ends. Amounts in US cents on a line of USD 100.00.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xborder.customs.measures import (
    measure_rows,
    parse_measures,
    shipped_measures,
    with_additional_duties,
)
from xborder.domain.errors import InvalidValue

D = date.fromisoformat


def lines_of(*rows: tuple[str, str, str], base: int = 10_000, qty: int = 1) -> pl.DataFrame:
    """Lines (hs_code, origin, day) to the US, one order per line."""
    return pl.DataFrame(
        {
            "rec": list(range(len(rows))),
            "line": [0] * len(rows),
            "date": [D(day) for _, _, day in rows],
            "regime": ["US"] * len(rows),
            "destination": ["US"] * len(rows),
            "origin": [origin for _, origin, _ in rows],
            "hs_code": [hs for hs, _, _ in rows],
            "qty": [qty] * len(rows),
            "base_minor": [base] * len(rows),
            "ok": [True] * len(rows),
        }
    )


def duty(
    hs: str, origin: str, day: str, base: int = 10_000, unverified: bool = False
) -> tuple[int, set[str]]:
    out = with_additional_duties(
        lines_of((hs, origin, day), base=base), include_unverified=unverified
    )
    ids = out.get_column("measure_ids")[0]
    return int(out.get_column("additional_duty_minor")[0]), set(ids.split(",")) if ids else set()


# --- IEEPA fentanyl duties on China and Hong Kong ----------------------------------------------
def test_fentanyl_duty_starts_2025_02_04_at_10_percent() -> None:
    # EO 14195 (2025-02-01): 10 % from 2025-02-04; smartphones (8517.13) are not exempt from it.
    assert duty("851713", "CN", "2025-02-03") == (0, set())
    assert duty("851713", "CN", "2025-02-04") == (1_000, {"US.IEEPA.FENT.10"})
    assert duty("851713", "HK", "2025-02-04") == (1_000, {"US.IEEPA.FENT.10"})
    assert duty("851713", "DE", "2025-02-04") == (0, set())


def test_fentanyl_duty_20_percent_from_2025_03_04_and_10_percent_from_2025_11_10() -> None:
    # EO 14228: 20 % from 2025-03-04; EO 14357 (2025-11-04): 10 % from 2025-11-10.
    assert duty("851713", "CN", "2025-03-03") == (1_000, {"US.IEEPA.FENT.10"})
    assert duty("851713", "CN", "2025-03-04") == (2_000, {"US.IEEPA.FENT.20"})
    assert duty("851713", "CN", "2025-11-09") == (2_000, {"US.IEEPA.FENT.20"})
    assert duty("851713", "CN", "2025-11-10") == (1_000, {"US.IEEPA.FENT.10R"})


# --- IEEPA reciprocal duties ------------------------------------------------------------------
def test_reciprocal_baseline_10_percent_from_2025_04_05_electronics_exempt() -> None:
    # EO 14257: 10 % baseline from 2025-04-05; the 2025-04-11 memorandum exempts smartphones.
    assert duty("330499", "DE", "2025-04-04") == (0, set())
    assert duty("330499", "DE", "2025-04-05") == (1_000, {"US.IEEPA.RECIP.BASE"})
    assert duty("851713", "DE", "2025-04-05") == (0, set())
    assert duty("330499", "CA", "2025-04-05") == (0, set())  # Canada: not in the reciprocal duty


def test_china_reciprocal_84_then_125_then_10_percent() -> None:
    # EO 14259: 84 % on 2025-04-09; EO 14266: 125 % from 2025-04-10; EO 14298: 10 % from 2025-05-14.
    # 330499 (beauty preparations) from China: fentanyl 20 % plus the reciprocal rate.
    assert duty("330499", "CN", "2025-04-08") == (
        3_000,
        {"US.IEEPA.FENT.20", "US.IEEPA.RECIP.CN.10"},
    )
    assert duty("330499", "CN", "2025-04-09")[0] == 10_400
    assert duty("330499", "CN", "2025-04-10")[0] == 14_500
    assert duty("330499", "CN", "2025-05-13")[0] == 14_500
    assert duty("330499", "CN", "2025-05-14") == (
        3_000,
        {"US.IEEPA.FENT.20", "US.IEEPA.RECIP.CN.10B"},
    )


def test_ieepa_duties_end_and_the_section_122_surcharge_starts_2026_02_24() -> None:
    # Learning Resources v. Trump (2026-02-20); CBP CSMS #67834313: no IEEPA duty from 2026-02-24;
    # Proclamation of 2026-02-20 (s.122), CSMS #67844987: 10 % from 2026-02-24.
    assert duty("330499", "CN", "2026-02-23") == (
        2_000,
        {"US.IEEPA.FENT.10R", "US.IEEPA.RECIP.CN.10B"},
    )
    assert duty("330499", "CN", "2026-02-24") == (1_000, {"US.S122.10"})
    assert duty("330499", "CA", "2026-02-24") == (0, set())


def test_section_122_surcharge_ends_with_entries_of_2026_07_23() -> None:
    # CSMS #67844987: entries until 12:01 a.m. EDT 2026-07-24; no successor duty was confirmed.
    assert duty("330499", "DE", "2026-07-23") == (1_000, {"US.S122.10"})
    assert duty("330499", "DE", "2026-07-24") == (0, set())
    assert duty("330499", "DE", "2026-12-02") == (0, set())


def test_section_122_electronics_exemption_is_unverified_so_only_an_option() -> None:
    assert duty("851713", "DE", "2026-03-01") == (0, set())
    assert duty("851713", "DE", "2026-03-01", unverified=True) == (1_000, {"US.S122.10"})


# --- Section 301 -----------------------------------------------------------------------------
def test_section_301_list_3_from_10_to_25_percent_on_2019_05_10() -> None:
    # 83 FR 47974: 10 % from 2018-09-24; 84 FR 20459: 25 % from 2019-05-10 (handbags, 4202).
    assert duty("420222", "CN", "2018-09-23") == (0, set())
    assert duty("420222", "CN", "2018-09-24") == (1_000, {"US.301.L3.10"})
    assert duty("420222", "CN", "2019-05-09") == (1_000, {"US.301.L3.10"})
    assert duty("420222", "CN", "2019-05-10") == (2_500, {"US.301.L3.25"})
    assert duty("420222", "HK", "2019-05-10") == (0, set())  # Section 301 covers China only


def test_section_301_list_4a_15_percent_then_7_5_percent_on_2020_02_14() -> None:
    # 84 FR 43304: 15 % from 2019-09-01; 85 FR 3741: 7.5 % from 2020-02-14 (T-shirts, 6109).
    assert duty("610910", "CN", "2019-08-31") == (0, set())
    assert duty("610910", "CN", "2019-09-01") == (1_500, {"US.301.L4A.15"})
    assert duty("610910", "CN", "2020-02-13") == (1_500, {"US.301.L4A.15"})
    assert duty("610910", "CN", "2020-02-14") == (750, {"US.301.L4A.7_5"})


def test_lithium_ion_batteries_rise_to_25_percent_on_2026_01_01() -> None:
    # 89 FR 76581 (four-year review): non-EV lithium-ion batteries 7.5 % -> 25 % on 2026-01-01.
    assert duty("850760", "CN", "2025-12-31")[1] >= {"US.301.L4A.7_5"}
    assert duty("850760", "CN", "2026-01-01") == (
        4_500,
        {"US.301.2024.BATT", "US.IEEPA.FENT.10R", "US.IEEPA.RECIP.CN.10B"},
    )
    assert duty("850760", "CN", "2026-12-02") == (2_500, {"US.301.2024.BATT"})


def test_unverified_scopes_are_left_off_by_default() -> None:
    # Headphones (8518.30) on list 4A: not confirmed against the annex, so not applied by default.
    assert duty("851830", "CN", "2024-06-01") == (0, set())
    assert duty("851830", "CN", "2024-06-01", unverified=True) == (750, {"US.301.L4A.7_5"})


# --- rounding, lines not quoted, other importers ------------------------------------------------
@pytest.mark.parametrize(
    ("base", "expected"),
    [(12_345, 1_235), (5, 1), (4, 0), (10_005, 1_001), (10_004, 1_000)],
)
def test_each_line_measure_amount_is_rounded_half_up_exactly(base: int, expected: int) -> None:
    # Section 122, 10 %: 1234.5 -> 1235, 0.5 -> 1, 0.4 -> 0, 1000.5 -> 1001, 1000.4 -> 1000.
    assert duty("330499", "DE", "2026-03-01", base=base)[0] == expected


def test_lines_not_ok_or_without_a_regime_get_nothing() -> None:
    frame = lines_of(("330499", "CN", "2026-03-01"), ("330499", "CN", "2026-03-01"))
    frame = frame.with_columns(pl.Series("ok", [False, True]), pl.Series("regime", ["US", None]))
    out = with_additional_duties(frame)
    assert out.get_column("additional_duty_minor").to_list() == [0, 0]
    assert out.get_column("measure_ids").to_list() == [None, None]


FIXTURE = """\
# Test fixture, not real data: an anti-dumping duty per unit and an EU handling fee per item.
id,importer,origins,exclude_origins,hs_prefixes,exclude_prefixes,kind,rate,amount_minor,currency,valid_from,valid_to,verified,source,note
TEST.AD.7323,US,CN,,7323,732393,specific,,150,USD,2026-01-01,2026-12-31,yes,fixture,
TEST.AD.7323.AV,US,CN,,7323,,ad_valorem,0.5,,,2026-01-01,2026-12-31,yes,fixture,
TEST.EU.HANDLING,EU,*,EU,*,,specific,,200,EUR,2026-11-01,,yes,fixture,
TEST.IT.ONLY,IT,*,,*,,ad_valorem,0.01,,,2026-11-01,,yes,fixture,
"""


def test_the_same_mechanism_serves_anti_dumping_and_a_handling_fee_per_item() -> None:
    table = parse_measures(FIXTURE, "fixture")
    us = lines_of(("732391", "CN", "2026-06-01"), ("732393", "CN", "2026-06-01"), qty=3)
    out = with_additional_duties(us, table=table)
    # 732391: USD 1.50 x 3 units + 50 % of 100.00; 732393 is excluded from the specific duty.
    assert out.get_column("additional_duty_minor").to_list() == [450 + 5_000, 5_000]
    eu = pl.DataFrame(
        {
            "rec": [0, 1, 2],
            "line": [0, 0, 0],
            "date": [D("2026-10-31"), D("2026-11-01"), D("2026-11-01")],
            "regime": ["EU"] * 3,
            "destination": ["DE", "IT", "IT"],
            "origin": ["CN", "CN", "FR"],
            "hs_code": ["330499"] * 3,
            "qty": [2] * 3,
            "base_minor": [10_000] * 3,
            "ok": [True] * 3,
        }
    )
    out = with_additional_duties(eu, table=table)
    assert out.get_column("additional_duty_minor").to_list() == [0, 400 + 100, 100]
    assert out.get_column("measure_ids").to_list() == [
        None,
        "TEST.EU.HANDLING,TEST.IT.ONLY",
        "TEST.IT.ONLY",
    ]


@pytest.mark.parametrize(
    ("row", "place"),
    [
        ("X,US,CN,,61,,ad_valorem,,,,2026-01-01,,yes,s,", "rate"),
        ("X,US,CN,,61,,specific,,,USD,2026-01-01,,yes,s,", "amount_minor"),
        ("X,US,CN,,6x,,ad_valorem,0.1,,,2026-01-01,,yes,s,", "hs_prefixes"),
        ("X,US,CN,,61,61.09,ad_valorem,0.1,,,2026-01-01,,yes,s,", "exclude_prefixes"),
        ("X,US,CN,,61,,ad_valorem,0.1,,,2026-13-01,,yes,s,", "valid_from"),
        ("X,US,CN,,61,,ad_valorem,0.1,,,2026-01-01,2025-01-01,yes,s,", "valid_to"),
        ("X,US,CN,,61,,ad_valorem,0.1,,,2026-01-01,,maybe,s,", "verified"),
    ],
)
def test_bad_measure_rows_are_refused_naming_row_and_column(row: str, place: str) -> None:
    header = FIXTURE.splitlines()[1]
    with pytest.raises(InvalidValue, match=f"row 1 {place}"):
        parse_measures(f"{header}\n{row}\n", "m.csv")


def test_every_shipped_row_cites_a_source_and_says_whether_it_was_verified() -> None:
    table = shipped_measures()
    assert table.height > 20
    assert (table.get_column("source").str.len_chars() > 10).all()
    assert table.filter(pl.col("verified")).height > 0
    unverified = table.filter(~pl.col("verified"))  # each says what could not be confirmed
    assert unverified.height > 0 and (unverified.get_column("note").str.len_chars() > 10).all()


# --- property: a quote for a date uses only measures valid that date -------------------------
HS = ["330499", "610910", "420222", "851713", "850760", "851830", "940360", "847130"]
ORIGINS = ["CN", "HK", "DE", "GB", "KR", "CA", "JP"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(HS),
            st.sampled_from(ORIGINS),
            st.dates(date(2018, 1, 1), date(2027, 1, 1)),
        ),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_a_quote_for_a_date_uses_only_measures_valid_that_date(
    rows: list[tuple[str, str, date]], unverified: bool
) -> None:
    frame = lines_of(*((hs, origin, day.isoformat()) for hs, origin, day in rows))
    out = with_additional_duties(frame, include_unverified=unverified)
    by_id = measure_rows()
    for (hs, origin, day), ids, amount in zip(
        rows, out.get_column("measure_ids"), out.get_column("additional_duty_minor"), strict=True
    ):
        used = ids.split(",") if ids else []
        assert (amount > 0) == bool(used)
        for mid in used:
            assert any(
                r["from"] <= day <= r["to"]  # type: ignore[operator]
                and (unverified or r["verified"])
                and ("*" in r["origins"] or origin in r["origins"])  # type: ignore[operator]
                and hs.startswith(str(r["prefix"]))
                for r in by_id[mid]
            ), (mid, hs, origin, day)
        # and one day outside every interval of a used measure it is not applied that day
        for mid in used:
            ends = [r["to"] for r in by_id[mid] if r["to"] != date.max]
            for end in ends:
                assert isinstance(end, date)
                after = end + timedelta(days=1)
                later = with_additional_duties(
                    lines_of((hs, origin, after.isoformat())), include_unverified=unverified
                )
                later_ids = (later.get_column("measure_ids")[0] or "").split(",")
                still = [r for r in by_id[mid] if r["from"] <= after <= r["to"]]  # type: ignore[operator]
                assert mid not in later_ids or still


# --- a batch resolves each distinct key once: the same result as each line alone ----------------
BATCH_FIXTURE = (
    FIXTURE
    + """TEST.AD.7323.AV,US,CN,,73,,ad_valorem,0.5,,,2026-01-01,,no,fixture,unverified duplicate id
TEST.WIDE,US,*,CN,*,7323|3304,ad_valorem,0.125,,,2026-01-01,,yes,fixture,
"""
)


@pytest.mark.parametrize("fixture", [False, True])
@pytest.mark.parametrize("unverified", [False, True])
def test_a_batch_of_lines_sharing_keys_gives_each_line_its_own_result(
    fixture: bool, unverified: bool
) -> None:
    # 60 lines over 3 dates x 3 origins x 4 HS codes x 2 importers: most lines share their key
    # with others but differ in base, qty and eligibility, and a line's result must not depend on
    # the rest of the batch (nor on the position of its key's first occurrence).
    table = parse_measures(BATCH_FIXTURE, "fixture") if fixture else None
    hs = ["732391", "732393", "330499", "851713"]
    origins, days = ["CN", "GB", "HK"], [D("2025-04-09"), D("2026-03-01"), D("2026-11-02")]
    n = 60
    frame = pl.DataFrame(
        {
            "rec": [i // 2 for i in range(n)],
            "line": [i % 2 for i in range(n)],
            "date": [days[i % 3] for i in range(n)],
            "regime": ["US" if i % 5 else "EU" for i in range(n)],
            "destination": ["US" if i % 5 else "IT" for i in range(n)],
            "origin": [origins[i // 3 % 3] for i in range(n)],
            "hs_code": [hs[i // 9 % 4] for i in range(n)],
            "qty": [1 + i % 4 for i in range(n)],
            "base_minor": [5 + 2_469 * i for i in range(n)],
            "ok": [i % 11 != 3 for i in range(n)],
        }
    )
    batch = with_additional_duties(frame, table=table, include_unverified=unverified)
    assert batch.select("rec", "line").equals(frame.select("rec", "line"))  # order kept
    alone = pl.concat(
        [
            with_additional_duties(frame.slice(i, 1), table=table, include_unverified=unverified)
            for i in range(n)
        ]
    )
    assert batch.equals(alone)
    duties = batch.get_column("additional_duty_minor")
    assert duties.n_unique() > 10  # many distinct amounts, not all zero
    assert (duties.filter(~frame.get_column("ok")) == 0).all()
