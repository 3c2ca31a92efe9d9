"""Quotes kept and reconciled (SQLite and PostgreSQL): the kept quote, assessments recorded once,
and the variance report per lane, market and HS chapter on a store with known variances."""

from __future__ import annotations

import json
from datetime import UTC, date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select

from tests.customs.support import clock_at
from tests.factories import make_import_order, make_order
from xborder.domain.errors import Conflict, InvalidValue, NotFound
from xborder.domain.orders import Address, OrderLine
from xborder.domain.world import World
from xborder.services.capture import capture_order
from xborder.services.customs import DeclareOrders, declare_orders
from xborder.services.customs_declare import tariff_version
from xborder.services.customs_variance import (
    AssessmentDue,
    QuoteVarianceQuery,
    RecordAssessment,
    RecordAssessments,
    assessment_due,
    quote_variance,
    record_assessment,
    record_assessments,
)
from xborder.services.world import LoadWorld, load_world
from xborder.store.metadata import metadata
from xborder.store.schema_customs import customs_assessments, customs_quotes
from xborder.store.schema_planning import parcels
from xborder.store.uow import UnitOfWork

DAY = date(2026, 3, 2)
LANE = "ln-szx-us-express"


def _gb(no: str) -> Any:
    consignee = Address(name="Amy Hart", telephone="+44 20 7946 0000", line1="1 High Street",
                        city="London", postcode="SW1A 1AA", country="GB")  # fmt: skip
    return make_order(no, currency="GBP", consignee=consignee)


@pytest.fixture
def store(engine: Engine, demo_world: World) -> tuple[Engine, UnitOfWork, dict[str, Any]]:
    """Four declared orders: DE (EUR, lines in chapters 61 and 39), a CNY-priced order to DE
    (converted), GB (GBP) and CN (CNY); the DE order has a parcel on a planned lane."""
    clock = clock_at(DAY)
    uow = UnitOfWork(engine, clock=clock)
    load_world(uow, LoadWorld(demo_world))
    serum = OrderLine(sku="SERUM-1", description="Serum", hs_code="330499", qty=1,
                      unit_price=Decimal("300.00"))  # fmt: skip
    orders = [make_order("DE-1"), make_order("DE-CNY", currency="CNY"), _gb("GB-1"),
              make_import_order("CN-1", lines=[serum])]  # fmt: skip
    with uow:
        ids = [capture_order(uow, o).order_id for o in orders]
        uow.commit()
    report = declare_orders(uow, DeclareOrders(ids))
    assert report.declared == 4, report.errors
    warehouse = demo_world.warehouses[0].id
    with engine.begin() as conn:
        conn.execute(parcels.insert().values(
            id="P-1", order_id=ids[0], sscc="000000000000000001", tracking_no="T-1",
            gross_kg=Decimal("0.5"), volume_cm3=Decimal("1000"), warehouse_id=warehouse,
            lane_id=LANE, status="packed",
        ))  # fmt: skip
    with engine.connect() as conn:
        kept = {r["order_id"]: dict(r) for r in conn.execute(select(customs_quotes)).mappings()}
    quotes = {no: kept[i] for no, i in zip(["DE-1", "DE-CNY", "GB-1", "CN-1"], ids, strict=True)}
    return engine, uow, quotes


def quoted(q: dict[str, Any]) -> int:
    return int(q["total_tax_minor"]) + int(q["fees_minor"])


def test_schema_module_and_migration_agree(engine: Engine) -> None:
    """The migrated tables have exactly the schema module's columns (and the new index)."""
    found = inspect(engine)
    for table in (customs_quotes, customs_assessments):
        assert {c["name"] for c in found.get_columns(table.name)} == set(table.c.keys())
        assert table.name in metadata.tables
    declared = {c["name"] for c in found.get_columns("customs_declarations")}
    assert "invt_no" in declared
    names = {i["name"] for i in found.get_indexes("customs_declarations")}
    assert "ix_customs_declarations_invt_no" in names
    uniques = found.get_unique_constraints("customs_assessments")
    assert [sorted(u["column_names"]) for u in uniques] == [
        ["declaration_id", "reference", "source"]
    ]


def test_each_declaration_keeps_its_quote_with_rule_versions(store: Any) -> None:
    _, uow, quotes = store
    with uow:
        declarations = uow.customs.get_many(list(quotes))
    for no, q in quotes.items():
        d = declarations[no]
        assert q["declaration_id"] == d["id"] and q["quoted_on"] == DAY
        assert q["currency"] == d["tax_currency"]
        for name in ("duty_minor", "vat_minor", "consumption_tax_minor", "total_tax_minor",
                     "landed_minor", "fees_minor"):  # fmt: skip
            assert q[name] == d[name]
        rules = json.loads(q["rules"])
        assert [r["id"] for r in rules if r["kind"] not in ("measure", "fee")] == json.loads(
            d["rules"]
        )
        assert all(date.fromisoformat(r["valid_from"]) <= DAY for r in rules if r["valid_from"])
        assert any(r["valid_from"] for r in rules)
        assert q["tariff_version"] == tariff_version(None) and len(q["tariff_version"]) == 64
        assert q["estimate"] is True  # the shipped tables are headings, not national lines
        assert q["quoted_at"].replace(tzinfo=UTC) <= uow.clock.now()
    assert quotes["DE-1"]["fx_rate"] is None and quotes["DE-1"]["fx_date"] is None
    converted = quotes["DE-CNY"]
    assert converted["currency"] == "EUR"
    # CNY -> EUR through the world's EUR/CNY 8.20 of 2026-01-05 (the inverse of the pair)
    assert Decimal(converted["fx_rate"]).quantize(Decimal("0.000001")) == Decimal("0.121951")
    assert converted["fx_date"] is not None and converted["fx_date"] <= DAY


def _known_variances(uow: UnitOfWork, quotes: dict[str, Any]) -> dict[str, int]:
    """DE-1: customs adds EUR 1.00 VAT; DE-CNY: customs as quoted; GB-1: the carrier bills a
    GBP 2.50 fee and customs (counting over the carrier) as quoted; CN-1: customs 10 % uplift
    on VAT. Returns the variance per order."""
    cn = quotes["CN-1"]

    def same(no: str, source: str, ref: str, **extra: Any) -> RecordAssessment:
        q = quotes[no]
        amounts = {
            "duty": Decimal(q["duty_minor"]).scaleb(-2),
            "vat": Decimal(q["vat_minor"]).scaleb(-2),
            "consumption_tax": Decimal(q["consumption_tax_minor"]).scaleb(-2),
            "fees": Decimal(q["fees_minor"]).scaleb(-2),
        }
        for key, value in extra.items():
            amounts[key] += value
        return RecordAssessment(no, source, ref, **amounts)

    cn_uplift = Decimal(cn["vat_minor"] // 10).scaleb(-2)
    record_assessments(uow, RecordAssessments([
        same("DE-1", "customs", "TAX-DE-1", vat=Decimal("1.00")),
        same("DE-CNY", "customs", "TAX-DE-2"),
        same("GB-1", "carrier", "INV-9", fees=Decimal("2.50")),
        same("GB-1", "customs", "TAX-GB-1"),
        same("CN-1", "customs", "TAX-CN-1", vat=cn_uplift),
    ]))  # fmt: skip
    return {"DE-1": 100, "DE-CNY": 0, "GB-1": 0, "CN-1": int(cn["vat_minor"]) // 10}


def test_variance_by_market_sums_per_currency_in_sql(store: Any) -> None:
    _, uow, quotes = store
    variance = _known_variances(uow, quotes)
    report = quote_variance(uow, QuoteVarianceQuery(group_by="market"))
    rows = {(r.group, r.currency): r for r in report.rows}
    assert set(rows) == {("DE", "EUR"), ("GB", "GBP"), ("CN", "CNY")}
    de = rows[("DE", "EUR")]
    assert de.declarations == 2 and de.differ == 1
    assert de.quoted_minor == quoted(quotes["DE-1"]) + quoted(quotes["DE-CNY"])
    assert de.variance_minor == 100 and de.assessed_minor == de.quoted_minor + 100
    assert de.variance_rate == pytest.approx(100 / de.quoted_minor)
    cn = rows[("CN", "CNY")]
    assert cn.variance_minor == variance["CN-1"] > 0 and cn.differ == 1
    assert str(cn.variance) == str(cn.assessed - cn.quoted)
    gb = rows[("GB", "GBP")]  # customs' assessment counts over the carrier's
    assert (gb.variance_minor, gb.differ) == (0, 0)
    carrier = quote_variance(uow, QuoteVarianceQuery(group_by="market", source="carrier"))
    assert [(r.group, r.variance_minor) for r in carrier.rows] == [("GB", 250)]


def test_variance_by_lane_never_adds_currencies(store: Any) -> None:
    _, uow, quotes = store
    _known_variances(uow, quotes)
    report = quote_variance(uow, QuoteVarianceQuery(group_by="lane"))
    got = {(r.group, r.currency): (r.declarations, r.variance_minor) for r in report.rows}
    assert got[(LANE, "EUR")] == (1, 100)
    assert got[("unplanned", "EUR")] == (1, 0)
    assert {k for k in got if k[0] == "unplanned"} == {
        ("unplanned", "EUR"),
        ("unplanned", "GBP"),
        ("unplanned", "CNY"),
    }


def test_variance_by_hs_chapter_allocates_by_line_value(store: Any) -> None:
    _, uow, quotes = store
    _known_variances(uow, quotes)
    report = quote_variance(uow, QuoteVarianceQuery(group_by="hs_chapter"))
    eur = {r.group: r for r in report.rows if r.currency == "EUR"}
    assert set(eur) == {"39", "61"}  # both DE orders: 2 x 9.99 in chapter 61, 4.50 in 39
    assert eur["61"].declarations == eur["39"].declarations == 2
    q = quoted(quotes["DE-1"]) + quoted(quotes["DE-CNY"])
    assert eur["61"].quoted_minor + eur["39"].quoted_minor == q
    assert eur["61"].variance_minor + eur["39"].variance_minor == 100
    # DE-1's total T: chapter 39 first gets floor(T * 450 / 2448), 61 the rest (exact, integer)
    t = quoted(quotes["DE-1"])
    t2 = quoted(quotes["DE-CNY"])
    value_cny = 2 * 999 + 450  # the same lines priced in CNY: the same value shares
    assert eur["39"].quoted_minor == t * 450 // 2448 + t2 * 450 // value_cny
    cny = {r.group: r for r in report.rows if r.currency == "CNY"}
    assert list(cny) == ["33"] and cny["33"].quoted_minor == quoted(quotes["CN-1"])


def test_assessment_is_idempotent_and_checked(store: Any) -> None:
    engine, uow, quotes = store
    q = quotes["DE-1"]
    vat = Decimal(q["vat_minor"]).scaleb(-2)
    first = record_assessment(uow, RecordAssessment("DE-1", "customs", "TAX-1", vat=vat))
    assert first.created and first.variance_minor == q["vat_minor"] - quoted(q)
    assert first.assessed_minor == q["vat_minor"] and first.quoted_minor == quoted(q)
    again = record_assessment(uow, RecordAssessment("DE-1", "customs", "TAX-1", vat=vat))
    assert not again.created
    with pytest.raises(Conflict):
        record_assessment(uow, RecordAssessment("DE-1", "customs", "TAX-1", vat=vat + 1))
    with pytest.raises(NotFound):
        record_assessment(uow, RecordAssessment("NOPE", "customs", "TAX-1"))
    for bad in (
        RecordAssessment("DE-1", "customs", "TAX-2", currency="USD"),
        RecordAssessment("DE-1", "broker", "TAX-2"),
        RecordAssessment("DE-1", "customs", "TAX-2", vat="1.005"),
        RecordAssessment("DE-1", "customs", "TAX-2", duty="-1"),
        RecordAssessment("DE-1", "customs", ""),
    ):
        with pytest.raises(InvalidValue):
            record_assessment(uow, bad)
    # all or nothing: a bad item leaves the good one before it unwritten
    with pytest.raises(NotFound):
        record_assessments(uow, RecordAssessments([
            RecordAssessment("GB-1", "carrier", "INV-1"), RecordAssessment("NOPE", "carrier", "X"),
        ]))  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(select(customs_assessments)).mappings().all()
    assert [(r["reference"], r["total_minor"]) for r in rows] == [("TAX-1", q["vat_minor"])]
    assert all(r["recorded_at"].replace(tzinfo=UTC) <= uow.clock.now() for r in rows)


def test_assessment_due_lists_released_unassessed(store: Any) -> None:
    _, uow, quotes = store
    with uow:
        declarations = uow.customs.get_many(["DE-1", "GB-1"])
        uow.customs.update_many([{"id": d["id"], "status": "released"}
                                 for d in declarations.values()])  # fmt: skip
        uow.commit()
    due = assessment_due(uow, AssessmentDue())
    assert due.get_column("order_no").to_list() == ["DE-1", "GB-1"]
    record_assessment(uow, RecordAssessment("DE-1", "customs", "TAX-1"))
    due = assessment_due(uow, AssessmentDue())
    assert due.get_column("order_no").to_list() == ["GB-1"]
    assert due.row(0, named=True)["vat_minor"] == quotes["GB-1"]["vat_minor"]


def test_bad_report_queries_are_refused(store: Any) -> None:
    _, uow, _ = store
    with pytest.raises(InvalidValue):
        quote_variance(uow, QuoteVarianceQuery(group_by="seller"))  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        quote_variance(uow, QuoteVarianceQuery(source="broker"))
    with pytest.raises(InvalidValue):
        quote_variance(uow, QuoteVarianceQuery(since=DAY, until=date(2026, 1, 1)))
    assert quote_variance(uow, QuoteVarianceQuery(since=date(2026, 3, 3))).rows == ()


CEB622 = """<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB622Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"
 guid="A1B2C3D4-0000-4000-8000-000000000622" version="1.0"><ceb:InventoryReturn>
<ceb:guid>A1B2C3D4-0000-4000-8000-000000000621</ceb:guid><ceb:copNo>CN-1</ceb:copNo>
<ceb:preNo>B20260302000000001</ceb:preNo><ceb:invtNo>460620260000000001</ceb:invtNo>
<ceb:returnStatus>120</ceb:returnStatus><ceb:returnTime>20260302101000000</ceb:returnTime>
<ceb:returnInfo>accepted</ceb:returnInfo></ceb:InventoryReturn></ceb:CEB622Message>"""


def ceb816(invt_no: str, vat: str, status: str = "1", tax_no: str = "TAX-816-1") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB816Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"
 guid="A1B2C3D4-0000-4000-8000-000000000816" version="1.0"><ceb:Tax><ceb:TaxHeadRd>
<ceb:guid>A1B2C3D4-0000-4000-8000-000000000817</ceb:guid>
<ceb:returnTime>20260303090000000</ceb:returnTime><ceb:invtNo>{invt_no}</ceb:invtNo>
<ceb:taxNo>{tax_no}</ceb:taxNo><ceb:customsTax>0</ceb:customsTax>
<ceb:valueAddedTax>{vat}</ceb:valueAddedTax><ceb:consumptionTax>0.00000</ceb:consumptionTax>
<ceb:status>{status}</ceb:status></ceb:TaxHeadRd><ceb:TaxListRd><ceb:gnum>1</ceb:gnum>
<ceb:gcode>3304990099</ceb:gcode><ceb:taxPrice>300</ceb:taxPrice><ceb:customsTax>0</ceb:customsTax>
<ceb:valueAddedTax>{vat}</ceb:valueAddedTax><ceb:consumptionTax>0</ceb:consumptionTax>
</ceb:TaxListRd></ceb:Tax></ceb:CEB816Message>""".encode()


def test_the_ceb816_tax_receipt_records_customs_assessment(store: Any) -> None:
    from xborder.services.customs_receipts import (
        ApplyReceiptMessage,
        ApplyTaxReceipt,
        apply_receipt_message,
        apply_tax_receipt,
    )

    _, uow, quotes = store
    with pytest.raises(NotFound):  # customs' list number is not known before the CEB622
        apply_tax_receipt(uow, ApplyTaxReceipt(ceb816("460620260000000001", "10.00")))
    listed = apply_receipt_message(uow, ApplyReceiptMessage(CEB622.encode()))
    assert listed.statuses == {"CN-1": "accepted"}
    q = quotes["CN-1"]
    vat = Decimal(q["vat_minor"] + 123).scaleb(-2)
    result = apply_tax_receipt(uow, ApplyTaxReceipt(ceb816("460620260000000001", f"{vat}001")))
    [assessed] = result.assessments
    assert (assessed.order_no, assessed.source, assessed.reference) == ("CN-1", "customs",
                                                                         "TAX-816-1")  # fmt: skip
    assert assessed.assessed_minor == q["vat_minor"] + 123  # 5 decimals rounded to the fen
    assert assessed.variance_minor == q["vat_minor"] + 123 - quoted(q)
    again = apply_receipt_message(
        uow, ApplyReceiptMessage(ceb816("460620260000000001", f"{vat}001"))
    )
    assert [n.code for n in again.notices] == ["assessed"]
    report = quote_variance(uow, QuoteVarianceQuery(group_by="market"))
    assert [(r.group, r.declarations) for r in report.rows] == [("CN", 1)]
    void = apply_tax_receipt(uow, ApplyTaxReceipt(ceb816("X", "1", status="3", tax_no="T-2")))
    assert void.assessments == () and [n.reason for n in void.notices] == ["tax receipt void"]
    with pytest.raises(InvalidValue):
        apply_tax_receipt(uow, ApplyTaxReceipt(CEB622.encode()))
