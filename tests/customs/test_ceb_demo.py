"""The CEB messages of the demo world's China import orders are complete and schema-valid.

A new user's demo store must yield customs messages that customs would accept: every fact the
GACC 202205 import schema requires of CEB311, CEB411, CEB511 and CEB621 is stored (in the demo
world, the generated orders, their payments and parcels), and the messages validate against the
vendored XSD. A fact the store lacks is named by the refusal, never invented.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import text

from tests.customs.ceb_support import ENTERPRISE, IMPORT_TYPES, key_and_cert, schema_errors
from xborder.bootstrap import Platform, bootstrap
from xborder.domain.clock import SettableClock
from xborder.domain.errors import InvalidValue, NotFound
from xborder.services.customs_messages import Enterprise
from xborder.services.customs_messages_order import OrderMessage, order_message
from xborder.services.world import read_world
from xborder.simulation.scenario import Scenario, run_scenario
from xborder.store.engine import make_engine
from xborder.trace.signing import KeyStore

NS = "{http://www.chinaport.gov.cn/ceb}"
WORLD = read_world()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Platform]:
    """The demo world with 60 orders placed on its valid_on day and worked for a week."""
    tmp = tmp_path_factory.mktemp("ceb-demo")
    shutil.copy(sqlite_template, tmp / "store.db")
    start = datetime.combine(WORLD.meta.valid_on, time(12), tzinfo=UTC)
    clock = SettableClock(start)
    platform = bootstrap(engine=make_engine(f"sqlite:///{tmp / 'store.db'}"), clock=clock,
                         keys=KeyStore(tmp / "keys"), migrate=False)  # fmt: skip
    run_scenario(platform, clock, WORLD,
                 Scenario(60, 7, WORLD.meta.valid_on, start + timedelta(days=7)))  # fmt: skip
    yield platform
    platform.close()


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return key_and_cert(tmp_path_factory.mktemp("pem"))


def enterprise(pem: tuple[Path, Path] | None = None) -> Enterprise:
    key, cert = (str(pem[0]), str(pem[1])) if pem else (None, None)
    return Enterprise(*ENTERPRISE, key_file=key, cert_file=cert)


def cn_orders(platform: Platform, paid: bool, packed: bool) -> list[int]:
    """China import orders with (or without) a payment and a parcel."""
    exists = "EXISTS (SELECT 1 FROM {} x WHERE x.order_id = d.order_id)"
    sql = (
        "SELECT d.order_id FROM customs_declarations d WHERE d.regime = 'CN' "
        f"AND {'' if paid else 'NOT '}{exists.format('payments')} "
        f"AND {'' if packed else 'NOT '}{exists.format('parcels')} ORDER BY d.order_id"
    )
    with platform.engine.connect() as conn:
        return [int(i) for i in conn.execute(text(sql)).scalars()]


def fields(xml: bytes) -> dict[str, str]:
    head = etree.fromstring(xml)[0][0]
    return {etree.QName(e).localname: e.text or "" for e in head}


def execute(platform: Platform, sql: str, **params: object) -> None:
    with platform.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_the_demo_world_holds_the_parties_facts() -> None:
    """Names fit the schema's 100 characters; every enterprise of a China import order (seller,
    platform, payment provider, import carrier, domestic carrier) has its customs code; every
    hub goods enter China at has its customs office."""
    assert max(len(p.name) for p in WORLD.parties) <= 100
    parties = {p.id: p for p in WORLD.parties}
    cn_demand = [d for d in WORLD.demand if d.country == "CN"]
    importing = {p.seller for p in WORLD.products if p.origin != "CN"}
    carriers = {ln.carrier for ln in WORLD.lanes if ln.dest_country == "CN"}
    domestic = {m.carrier for m in WORLD.last_mile if m.country == "CN"}
    payers = {p.id for p in WORLD.parties if "payment_provider" in p.roles and p.country == "CN"}
    enterprises = importing | carriers | domestic | payers | {d.platform for d in cn_demand}
    assert cn_demand and importing and domestic
    assert sorted(e for e in enterprises if not parties[e].customs_code) == []
    entry_hubs = {ln.dest_hub for ln in WORLD.lanes if ln.dest_country == "CN"} | {
        w.hub for w in WORLD.warehouses if w.customs_mode == "1210"
    }
    offices = {h.id: h.customs_office for h in WORLD.hubs}
    assert sorted(h for h in entry_hubs if h and not offices[h]) == []


@pytest.mark.parametrize("code", IMPORT_TYPES)
def test_a_demo_import_order_yields_schema_valid_messages(
    demo: Platform, pem: tuple[Path, Path], code: str
) -> None:
    order_id = cn_orders(demo, paid=True, packed=True)[0]
    xml = order_message(demo.uow(), OrderMessage(order_id, code, enterprise(pem)))
    assert schema_errors(xml) == []
    assert schema_errors(xml, "2018-113") == []
    again = order_message(demo.uow(), OrderMessage(order_id, code, enterprise(pem)))
    assert etree.fromstring(again).get("guid") == etree.fromstring(xml).get("guid")


def test_each_required_element_comes_from_its_stored_fact(demo: Platform) -> None:
    order_id = cn_orders(demo, paid=True, packed=True)[0]
    written = {
        code: fields(
            order_message(demo.uow(), OrderMessage(order_id, code, enterprise(), unsigned=True))
        )
        for code in IMPORT_TYPES
    }
    with demo.engine.connect() as conn:
        order = conn.execute(text("SELECT * FROM orders WHERE id = :i"), {"i": order_id}).one()
        parcel = conn.execute(text("SELECT * FROM parcels WHERE order_id = :i"),
                              {"i": order_id}).one()  # fmt: skip
        lines = conn.execute(text("SELECT sku, qty FROM order_lines WHERE order_id = :i"),
                             {"i": order_id}).all()  # fmt: skip
    weights = {p.sku: p.net_weight_kg for p in WORLD.products}
    net = sum((weights[sku] * qty for sku, qty in lines), Decimal(0))
    parties = {p.id: p for p in WORLD.parties}
    seller, platform_ = parties[order.seller_id], parties[order.platform_id]
    carrier = parties[next(m.carrier for m in WORLD.last_mile if m.id == parcel.last_mile_id)]
    head = written["CEB311"]
    assert head["buyerRegNo"] == order.buyer_email and order.buyer_email.endswith(".example")
    assert (head["ebpCode"], head["ebpName"]) == (platform_.customs_code, platform_.name)
    assert (head["ebcCode"], head["ebcName"]) == (seller.customs_code, seller.name)
    assert written["CEB411"]["ebpCode"] == platform_.customs_code
    assert len(written["CEB411"]["payTime"]) == 14
    for code in ("CEB511", "CEB621"):
        assert written[code]["logisticsNo"] == parcel.tracking_no
        assert (written[code]["logisticsCode"], written[code]["logisticsName"]) == (
            carrier.customs_code, carrier.name)  # fmt: skip
        assert written[code]["packNo"] == "1"
    assert Decimal(written["CEB511"]["weight"]) == Decimal(str(parcel.gross_kg))
    inventory = written["CEB621"]
    assert inventory["tradeMode"] == "1210" and inventory["trafMode"] == "4"  # bonded, by road
    assert inventory["customsCode"] == inventory["portCode"] == "4600"  # hub-cgo's office
    assert (inventory["agentCode"], inventory["agentName"]) == ENTERPRISE[:2]
    assert inventory["country"] == {"US": "502", "DE": "304", "JP": "116", "KR": "133",
                                    "AU": "601"}[seller.country]  # fmt: skip
    assert Decimal(inventory["netWeight"]) == net


def test_a_missing_fact_is_named_not_invented(
    demo: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = cn_orders(demo, paid=True, packed=True)[0]
    execute(demo, "UPDATE hubs SET customs_office = NULL WHERE id = 'hub-cgo'")
    try:
        with pytest.raises(InvalidValue, match=r"records\[0\]\.customsCode: is required"):
            order_message(demo.uow(), OrderMessage(order_id, "CEB621", enterprise(),
                                                   unsigned=True))  # fmt: skip
    finally:
        execute(demo, "UPDATE hubs SET customs_office = '4600' WHERE id = 'hub-cgo'")
    carriers = tuple(m.carrier for m in WORLD.last_mile if m.country == "CN")
    codes = {c: next(p.customs_code for p in WORLD.parties if p.id == c) for c in carriers}
    execute(demo, f"UPDATE parties SET customs_code = NULL WHERE id IN {carriers}")
    try:  # not the match's illustrative logistics code
        with pytest.raises(InvalidValue, match=r"records\[0\]\.logisticsCode: is required"):
            order_message(demo.uow(), OrderMessage(order_id, "CEB511", enterprise()))
    finally:
        for carrier, code in codes.items():
            execute(demo, "UPDATE parties SET customs_code = :c WHERE id = :i", c=code, i=carrier)
    for name in ("XBORDER_CEB_CONFIG", "XBORDER_CEB_COP_CODE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidValue, match="XBORDER_CEB_COP_CODE"):
        order_message(demo.uow(), OrderMessage(order_id, "CEB311"))  # no identity configured


def test_no_document_before_its_fact_exists(demo: Platform) -> None:
    """An unpaid order has no CEB411, an unpacked one no CEB511 or CEB621 (NotFound, 404):
    the payment is moved to another order, the parcel taken away, for the test's duration."""
    order_id, other_id = cn_orders(demo, paid=True, packed=True)[:2]
    with demo.engine.connect() as conn:
        paid = list(conn.execute(text("SELECT id FROM payments WHERE order_id = :i"),
                                 {"i": order_id}).scalars())  # fmt: skip
        parcel = dict(conn.execute(text("SELECT * FROM parcels WHERE order_id = :i"),
                                   {"i": order_id}).mappings().one())  # fmt: skip
    execute(demo, "UPDATE payments SET order_id = :o WHERE order_id = :i", o=other_id, i=order_id)
    execute(demo, "DELETE FROM parcels WHERE order_id = :i", i=order_id)
    try:
        with pytest.raises(NotFound, match="no payment"):
            order_message(demo.uow(), OrderMessage(order_id, "CEB411", enterprise()))
        for code in ("CEB511", "CEB621"):
            with pytest.raises(NotFound, match="no parcel"):
                order_message(demo.uow(), OrderMessage(order_id, code, enterprise(),
                                                       unsigned=True))  # fmt: skip
        fields(order_message(demo.uow(), OrderMessage(order_id, "CEB311", enterprise())))
    finally:
        for payment in paid:
            execute(demo, "UPDATE payments SET order_id = :i WHERE id = :p", i=order_id, p=payment)
        names = ", ".join(parcel)
        execute(demo, f"INSERT INTO parcels ({names}) VALUES "
                      f"({', '.join(':' + n for n in parcel)})", **parcel)  # fmt: skip
    with pytest.raises(NotFound, match="one of CEB311"):
        order_message(demo.uow(), OrderMessage(order_id, "CEB303", enterprise()))
    assert fields(order_message(demo.uow(), OrderMessage(order_id, "CEB511", enterprise())))


def test_the_cli_writes_a_stored_orders_messages(
    demo: Platform, pem: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``xborder customs message --type CODE --order ID``: the same messages, signed with
    --key/--cert; a fact the store lacks exits 2 naming the field."""
    from typer.testing import CliRunner

    from xborder.cli.customs import app

    monkeypatch.setenv("XBORDER_DATABASE_URL", demo.engine.url.render_as_string(False))
    monkeypatch.setenv("COLUMNS", "80")
    for name, value in zip(("COP_CODE", "COP_NAME", "DXP_ID"), ENTERPRISE, strict=True):
        monkeypatch.setenv(f"XBORDER_CEB_{name}", value)
    order_id = cn_orders(demo, paid=True, packed=True)[0]
    runner = CliRunner()
    for code in IMPORT_TYPES:
        out = tmp_path / f"{code}.xml"
        args = ["message", "--type", code, "--order", str(order_id), "-o", str(out)]
        result = runner.invoke(app, [*args, "--key", str(pem[0]), "--cert", str(pem[1])])
        assert result.exit_code == 0, result.output
        assert schema_errors(out.read_bytes()) == []
    with demo.engine.connect() as conn:
        account = conn.execute(
            text("SELECT buyer_email FROM orders WHERE id = :i"), {"i": order_id}
        ).scalar_one()
    execute(demo, "UPDATE orders SET buyer_email = NULL WHERE id = :i", i=order_id)
    try:
        result = runner.invoke(app, ["message", "--type", "CEB311", "--order", str(order_id)])
    finally:
        execute(demo, "UPDATE orders SET buyer_email = :a WHERE id = :i", a=account, i=order_id)
    assert result.exit_code == 2
    assert "records[0].buyerRegNo: is required" in result.output
